// ES module: loaded with <script type="module">, so it must be served
// with a JavaScript MIME type (text/javascript), not application/octet-stream.

export const SITE_DATA_URL = "/data/site.json";

export async function loadSiteData(url = SITE_DATA_URL) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    throw new Error(`failed to load ${url}: HTTP ${response.status}`);
  }
  return response.json();
}

export function formatDate(iso, locale = "en-GB") {
  return new Intl.DateTimeFormat(locale, { day: "numeric", month: "long", year: "numeric" })
    .format(new Date(iso));
}

export function renderPosts(list, posts) {
  list.replaceChildren(
    ...posts.map((post) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = post.url;
      a.textContent = post.title;
      const time = document.createElement("time");
      time.dateTime = post.date;
      time.textContent = formatDate(post.date);
      li.append(a, " ", time);
      return li;
    }),
  );
}

const list = document.querySelector(".post-list[data-source]");
if (list) {
  loadSiteData(list.dataset.source)
    .then((data) => renderPosts(list, data.posts))
    .catch((err) => console.warn(err));
}
