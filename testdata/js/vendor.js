/*!
 * kv.js v2.3.1 — small DOM and utility helpers
 * (c) 2024-2026 The kv.js contributors. Released under the MIT License.
 */
(function (global, factory) {
  if (typeof exports === "object" && typeof module !== "undefined") {
    module.exports = factory();
  } else if (typeof define === "function" && define.amd) {
    define(factory);
  } else {
    global.kv = factory();
  }
})(typeof globalThis !== "undefined" ? globalThis : this, function () {
  "use strict";

  var VERSION = "2.3.1";
  var hasOwn = Object.prototype.hasOwnProperty;
  var toString = Object.prototype.toString;
  var slice = Array.prototype.slice;

  /* ------------------------------------------------------------------ *
   * Type checks
   * ------------------------------------------------------------------ */

  function isArray(value) {
    return Array.isArray(value);
  }

  function isObject(value) {
    return value !== null && typeof value === "object";
  }

  function isPlainObject(value) {
    if (!isObject(value) || toString.call(value) !== "[object Object]") return false;
    var proto = Object.getPrototypeOf(value);
    return proto === null || proto === Object.prototype;
  }

  function isFunction(value) {
    return typeof value === "function";
  }

  function isString(value) {
    return typeof value === "string";
  }

  function isNumber(value) {
    return typeof value === "number" && !isNaN(value);
  }

  function isEmpty(value) {
    if (value == null) return true;
    if (isArray(value) || isString(value)) return value.length === 0;
    if (value instanceof Map || value instanceof Set) return value.size === 0;
    if (isObject(value)) {
      for (var key in value) {
        if (hasOwn.call(value, key)) return false;
      }
      return true;
    }
    return false;
  }

  /* ------------------------------------------------------------------ *
   * Objects and collections
   * ------------------------------------------------------------------ */

  function each(collection, iteratee) {
    if (collection == null) return collection;
    if (isArray(collection) || typeof collection.length === "number") {
      for (var i = 0; i < collection.length; i++) {
        if (iteratee(collection[i], i, collection) === false) break;
      }
    } else {
      for (var key in collection) {
        if (hasOwn.call(collection, key)) {
          if (iteratee(collection[key], key, collection) === false) break;
        }
      }
    }
    return collection;
  }

  function map(collection, iteratee) {
    var result = [];
    each(collection, function (value, key) {
      result.push(iteratee(value, key, collection));
    });
    return result;
  }

  function filter(collection, predicate) {
    var result = [];
    each(collection, function (value, key) {
      if (predicate(value, key, collection)) result.push(value);
    });
    return result;
  }

  function reduce(collection, iteratee, accumulator) {
    var initialized = arguments.length >= 3;
    each(collection, function (value, key) {
      if (!initialized) {
        accumulator = value;
        initialized = true;
      } else {
        accumulator = iteratee(accumulator, value, key, collection);
      }
    });
    return accumulator;
  }

  function groupBy(collection, keyFn) {
    var fn = isFunction(keyFn) ? keyFn : function (item) { return item[keyFn]; };
    return reduce(
      collection,
      function (groups, item) {
        var key = fn(item);
        (groups[key] || (groups[key] = [])).push(item);
        return groups;
      },
      {}
    );
  }

  function uniq(array) {
    var seen = new Set();
    return filter(array, function (value) {
      if (seen.has(value)) return false;
      seen.add(value);
      return true;
    });
  }

  function chunk(array, size) {
    var result = [];
    size = Math.max(1, size | 0);
    for (var i = 0; i < array.length; i += size) {
      result.push(array.slice(i, i + size));
    }
    return result;
  }

  function get(object, path, defaultValue) {
    var parts = isArray(path) ? path : String(path).replace(/\[(\d+)\]/g, ".$1").split(".");
    var current = object;
    for (var i = 0; i < parts.length; i++) {
      if (current == null) return defaultValue;
      current = current[parts[i]];
    }
    return current === undefined ? defaultValue : current;
  }

  function set(object, path, value) {
    var parts = isArray(path) ? path : String(path).replace(/\[(\d+)\]/g, ".$1").split(".");
    var current = object;
    for (var i = 0; i < parts.length - 1; i++) {
      var key = parts[i];
      if (!isObject(current[key])) {
        current[key] = /^\d+$/.test(parts[i + 1]) ? [] : {};
      }
      current = current[key];
    }
    current[parts[parts.length - 1]] = value;
    return object;
  }

  function merge(target) {
    var sources = slice.call(arguments, 1);
    each(sources, function (source) {
      if (!isObject(source)) return;
      each(source, function (value, key) {
        if (isPlainObject(value)) {
          if (!isPlainObject(target[key])) target[key] = {};
          merge(target[key], value);
        } else if (isArray(value)) {
          target[key] = value.slice();
        } else if (value !== undefined) {
          target[key] = value;
        }
      });
    });
    return target;
  }

  function pick(object, keys) {
    var result = {};
    each(keys, function (key) {
      if (object != null && key in object) result[key] = object[key];
    });
    return result;
  }

  function omit(object, keys) {
    var result = {};
    var drop = new Set(keys);
    each(object, function (value, key) {
      if (!drop.has(key)) result[key] = value;
    });
    return result;
  }

  /* ------------------------------------------------------------------ *
   * Functions
   * ------------------------------------------------------------------ */

  function debounce(fn, wait, options) {
    var timer = null;
    var lastArgs;
    var lastThis;
    var leading = !!(options && options.leading);
    function invoke() {
      timer = null;
      if (!leading) fn.apply(lastThis, lastArgs);
    }
    function debounced() {
      lastArgs = arguments;
      lastThis = this;
      var callNow = leading && !timer;
      clearTimeout(timer);
      timer = setTimeout(invoke, wait);
      if (callNow) fn.apply(lastThis, lastArgs);
    }
    debounced.cancel = function () {
      clearTimeout(timer);
      timer = null;
    };
    return debounced;
  }

  function throttle(fn, wait) {
    var last = 0;
    var timer = null;
    return function throttled() {
      var now = Date.now();
      var remaining = wait - (now - last);
      var args = arguments;
      var ctx = this;
      if (remaining <= 0) {
        clearTimeout(timer);
        timer = null;
        last = now;
        fn.apply(ctx, args);
      } else if (!timer) {
        timer = setTimeout(function () {
          last = Date.now();
          timer = null;
          fn.apply(ctx, args);
        }, remaining);
      }
    };
  }

  function once(fn) {
    var called = false;
    var result;
    return function () {
      if (!called) {
        called = true;
        result = fn.apply(this, arguments);
      }
      return result;
    };
  }

  function memoize(fn, resolver) {
    var cache = new Map();
    function memoized() {
      var key = resolver ? resolver.apply(this, arguments) : arguments[0];
      if (cache.has(key)) return cache.get(key);
      var value = fn.apply(this, arguments);
      cache.set(key, value);
      return value;
    }
    memoized.cache = cache;
    return memoized;
  }

  /* ------------------------------------------------------------------ *
   * Strings
   * ------------------------------------------------------------------ */

  var HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, function (ch) {
      return HTML_ESCAPES[ch];
    });
  }

  function slugify(value) {
    return String(value)
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "");
  }

  function template(source) {
    return function (data) {
      return source.replace(/\{\{\s*([\w.\[\]]+)\s*\}\}/g, function (_, path) {
        return escapeHtml(get(data, path, ""));
      });
    };
  }

  function formatBytes(bytes, decimals) {
    if (!bytes) return "0 B";
    var units = ["B", "KiB", "MiB", "GiB", "TiB"];
    var i = Math.min(units.length - 1, Math.floor(Math.log(bytes) / Math.log(1024)));
    return (bytes / Math.pow(1024, i)).toFixed(i === 0 ? 0 : decimals == null ? 1 : decimals) + " " + units[i];
  }

  /* ------------------------------------------------------------------ *
   * URLs
   * ------------------------------------------------------------------ */

  function parseQuery(query) {
    var result = {};
    String(query || "")
      .replace(/^\?/, "")
      .split("&")
      .forEach(function (pair) {
        if (!pair) return;
        var idx = pair.indexOf("=");
        var key = decodeURIComponent((idx < 0 ? pair : pair.slice(0, idx)).replace(/\+/g, " "));
        var value = idx < 0 ? "" : decodeURIComponent(pair.slice(idx + 1).replace(/\+/g, " "));
        if (hasOwn.call(result, key)) {
          result[key] = [].concat(result[key], value);
        } else {
          result[key] = value;
        }
      });
    return result;
  }

  function stringifyQuery(params) {
    var parts = [];
    each(params, function (value, key) {
      if (value == null) return;
      [].concat(value).forEach(function (v) {
        parts.push(encodeURIComponent(key) + "=" + encodeURIComponent(v));
      });
    });
    return parts.join("&");
  }

  /* ------------------------------------------------------------------ *
   * Events
   * ------------------------------------------------------------------ */

  function Emitter() {
    this._handlers = Object.create(null);
  }

  Emitter.prototype.on = function (type, handler) {
    (this._handlers[type] || (this._handlers[type] = [])).push(handler);
    var self = this;
    return function off() {
      self.off(type, handler);
    };
  };

  Emitter.prototype.off = function (type, handler) {
    var list = this._handlers[type];
    if (!list) return;
    var idx = list.indexOf(handler);
    if (idx !== -1) list.splice(idx, 1);
  };

  Emitter.prototype.emit = function (type) {
    var list = this._handlers[type];
    if (!list) return 0;
    var args = slice.call(arguments, 1);
    list.slice().forEach(function (handler) {
      handler.apply(null, args);
    });
    return list.length;
  };

  /* ------------------------------------------------------------------ *
   * DOM
   * ------------------------------------------------------------------ */

  function $(selector, context) {
    return (context || document).querySelector(selector);
  }

  function $$(selector, context) {
    return slice.call((context || document).querySelectorAll(selector));
  }

  function ready(fn) {
    if (document.readyState !== "loading") {
      setTimeout(fn, 0);
    } else {
      document.addEventListener("DOMContentLoaded", fn, { once: true });
    }
  }

  function delegate(root, type, selector, handler) {
    function listener(event) {
      var target = event.target.closest(selector);
      if (target && root.contains(target)) handler.call(target, event, target);
    }
    root.addEventListener(type, listener);
    return function () {
      root.removeEventListener(type, listener);
    };
  }

  function h(tag, attrs) {
    var el = document.createElement(tag);
    each(attrs || {}, function (value, key) {
      if (key === "class") el.className = value;
      else if (key === "style" && isObject(value)) merge(el.style, value);
      else if (key.slice(0, 2) === "on" && isFunction(value)) el.addEventListener(key.slice(2), value);
      else if (value === true) el.setAttribute(key, "");
      else if (value !== false && value != null) el.setAttribute(key, value);
    });
    each(slice.call(arguments, 2), function append(child) {
      if (child == null || child === false) return;
      if (isArray(child)) return each(child, append);
      el.appendChild(child.nodeType ? child : document.createTextNode(String(child)));
    });
    return el;
  }

  /* ------------------------------------------------------------------ *
   * Network
   * ------------------------------------------------------------------ */

  function fetchJSON(url, options) {
    var opts = merge({ retries: 2, backoff: 300, headers: { Accept: "application/json" } }, options);
    function attempt(n) {
      return fetch(url, opts).then(
        function (response) {
          if (response.status >= 500 && n < opts.retries) return retry(n);
          if (!response.ok) {
            var err = new Error("HTTP " + response.status + " for " + url);
            err.status = response.status;
            throw err;
          }
          return response.json();
        },
        function (err) {
          if (n < opts.retries) return retry(n);
          throw err;
        }
      );
    }
    function retry(n) {
      return new Promise(function (resolve) {
        setTimeout(resolve, opts.backoff * Math.pow(2, n));
      }).then(function () {
        return attempt(n + 1);
      });
    }
    return attempt(0);
  }

  /* ------------------------------------------------------------------ *
   * LRU cache
   * ------------------------------------------------------------------ */

  function LRU(limit) {
    this.limit = limit || 100;
    this.map = new Map();
  }

  LRU.prototype.get = function (key) {
    if (!this.map.has(key)) return undefined;
    var value = this.map.get(key);
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  };

  LRU.prototype.set = function (key, value) {
    if (this.map.has(key)) this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.limit) {
      this.map.delete(this.map.keys().next().value);
    }
    return this;
  };

  return {
    VERSION: VERSION,
    isArray: isArray,
    isObject: isObject,
    isPlainObject: isPlainObject,
    isFunction: isFunction,
    isString: isString,
    isNumber: isNumber,
    isEmpty: isEmpty,
    each: each,
    map: map,
    filter: filter,
    reduce: reduce,
    groupBy: groupBy,
    uniq: uniq,
    chunk: chunk,
    get: get,
    set: set,
    merge: merge,
    pick: pick,
    omit: omit,
    debounce: debounce,
    throttle: throttle,
    once: once,
    memoize: memoize,
    escapeHtml: escapeHtml,
    slugify: slugify,
    template: template,
    formatBytes: formatBytes,
    parseQuery: parseQuery,
    stringifyQuery: stringifyQuery,
    Emitter: Emitter,
    $: $,
    $$: $$,
    ready: ready,
    delegate: delegate,
    h: h,
    fetchJSON: fetchJSON,
    LRU: LRU
  };
});
