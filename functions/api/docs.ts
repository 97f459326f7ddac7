// The browsable API reference: GET /docs renders /openapi.json in the browser with RapiDoc, whose
// script the Worker serves itself (GET /docs/rapidoc.js), so the page needs no CDN and no internet.
//
// Why not Scalar: its standalone bundle (@scalar/api-reference 1.76, dist/browser/standalone.js) is
// 4.6 MiB, 1.33 MiB gzipped (1.0 MiB even brotli-11), over the Worker's whole 1 MiB budget on its own;
// its split ESM build still loads 3.1 MiB (871 KiB gzipped) before the first render. RapiDoc is one
// file of 843 KiB, 213 KiB gzipped, and renders OpenAPI 3.1 with a "try it" console.
//
// These routes are not in the OpenAPI document (they are not part of the API): app.ts lists them in
// `documentRoutes` so knownRoutesOnly lets them through; casbin allows them to everyone (drizzle/0009
// for /docs, drizzle/0010 for /docs/rapidoc.js).
//
// The `?raw` suffix is for Vite (vitest), the `type: 'text'` attribute for esbuild (wrangler); each
// tool ignores the other's half, and both hand over the file's text without running it.
import rapidocScript from 'rapidoc/dist/rapidoc-min.js?raw' with { type: 'text' };
import { version as rapidocVersion } from 'rapidoc/package.json';
import { createRouter } from '../http/router.ts';

export const DOCS_PATH = '/docs';
export const DOCS_SCRIPT_PATH = '/docs/rapidoc.js';

/** The page may load only what this origin serves: no CDN, no web fonts, no third-party calls. */
const pageSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'", // RapiDoc (lit) styles its shadow roots with inline <style>
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'", // the document, and "try it" calls to this API
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const scriptTag = `${DOCS_SCRIPT_PATH}?v=${encodeURIComponent(rapidocVersion)}`;
const scriptEtag = `"rapidoc-${rapidocVersion}"`;

// RapiDoc attributes: https://rapidocweb.com/api.html. load-fonts="false" keeps it from fetching
// Open Sans from Google; the spec URL is fixed (no loading of other documents from the page).
// render-style="focused" lists every operation in the navigation and renders the one chosen: "read"
// rendered the whole document at once (some 40,000 elements, ~15 s of CPU in headless Chromium).
const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stacker API reference</title>
<link rel="icon" href="data:,">
<script type="module" src="${scriptTag}"></script>
</head>
<body>
<rapi-doc
  spec-url="/openapi.json"
  load-fonts="false"
  regular-font="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
  mono-font="ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace"
  theme="light"
  render-style="focused"
  layout="row"
  show-header="false"
  allow-spec-url-load="false"
  allow-spec-file-load="false"
  allow-search="true"
  allow-advanced-search="true"
  schema-style="table"
  sort-tags="false"
></rapi-doc>
</body>
</html>
`;

export const docsRoutes = createRouter()
  .get(DOCS_PATH, (c) =>
    c.html(page, 200, {
      'Content-Security-Policy': pageSecurityPolicy,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-cache',
    }),
  )
  .get(DOCS_SCRIPT_PATH, (c) => {
    const headers = {
      ETag: scriptEtag,
      // The page asks for ?v=<version>, so a cached copy is never older than the page that loads it.
      'Cache-Control': 'public, max-age=86400',
      'X-Content-Type-Options': 'nosniff',
    };
    if (c.req.header('If-None-Match') === scriptEtag) return c.body(null, 304, headers);
    return c.body(rapidocScript, 200, { ...headers, 'Content-Type': 'text/javascript; charset=utf-8' });
  });
