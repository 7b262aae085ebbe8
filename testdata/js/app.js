/* Kestrel site script: theme toggle, docs search, external link marking.
 * Depends on window.kv (js/vendor.js) when present, but degrades without it. */
(function () {
  "use strict";

  var THEME_KEY = "kestrel-theme";
  var root = document.documentElement;

  function storedTheme() {
    try {
      return window.localStorage.getItem(THEME_KEY);
    } catch (e) {
      return null;
    }
  }

  function applyTheme(theme) {
    if (theme === "dark") {
      root.setAttribute("data-theme", "dark");
    } else {
      root.removeAttribute("data-theme");
    }
    var button = document.querySelector(".theme-toggle");
    if (button) {
      button.setAttribute("aria-pressed", theme === "dark" ? "true" : "false");
      button.textContent = theme === "dark" ? "Light mode" : "Dark mode";
    }
  }

  function initTheme() {
    var initial = storedTheme();
    if (!initial && window.matchMedia) {
      initial = window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
    }
    applyTheme(initial);
    var button = document.querySelector(".theme-toggle");
    if (!button) return;
    button.addEventListener("click", function () {
      var next = root.getAttribute("data-theme") === "dark" ? "light" : "dark";
      applyTheme(next);
      try {
        window.localStorage.setItem(THEME_KEY, next);
      } catch (e) {
        /* private mode: ignore */
      }
    });
  }

  function markExternalLinks() {
    var links = document.querySelectorAll("a[href^='http']");
    for (var i = 0; i < links.length; i++) {
      var a = links[i];
      if (a.host !== window.location.host) {
        a.setAttribute("rel", "noopener");
        a.classList.add("external");
      }
    }
  }

  function escapeHtml(s) {
    return s.replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  var indexPromise = null;

  function loadIndex(url) {
    if (!indexPromise) {
      indexPromise = fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
        if (!r.ok) throw new Error("search index: HTTP " + r.status);
        return r.json();
      });
    }
    return indexPromise;
  }

  function search(index, query, limit) {
    var terms = query.toLowerCase().split(/\s+/).filter(Boolean);
    if (!terms.length) return [];
    var hits = [];
    for (var i = 0; i < index.length; i++) {
      var doc = index[i];
      var score = 0;
      for (var t = 0; t < terms.length; t++) {
        if (doc.title.toLowerCase().indexOf(terms[t]) !== -1) score += 5;
        if (doc.words.indexOf(terms[t]) !== -1) score += 1;
      }
      if (score > 0) hits.push({ doc: doc, score: score });
    }
    hits.sort(function (a, b) {
      return b.score - a.score;
    });
    return hits.slice(0, limit);
  }

  function initSearch() {
    var input = document.querySelector(".search input[type='search']");
    var list = document.querySelector(".search-results");
    if (!input || !list) return;
    var url = input.getAttribute("data-index") || "/data/search-index.json";
    var debounce = window.kv && window.kv.debounce ? window.kv.debounce : function (f) { return f; };
    input.addEventListener(
      "input",
      debounce(function () {
        var q = input.value.trim();
        if (q.length < 2) {
          list.hidden = true;
          return;
        }
        loadIndex(url).then(function (index) {
          var hits = search(index, q, 10);
          list.innerHTML = hits
            .map(function (h) {
              return '<li><a href="' + escapeHtml(h.doc.url) + '">' + escapeHtml(h.doc.title) + "</a></li>";
            })
            .join("");
          list.hidden = hits.length === 0;
        });
      }, 150)
    );
  }

  document.addEventListener("DOMContentLoaded", function () {
    initTheme();
    markExternalLinks();
    initSearch();
  });
})();
