// The dashboard's own small stylesheet (on top of Pico) and script: confirm before destructive
// forms, copy buttons, the raw .env editor's toggle. Served by the Worker at ASSETS.
export const DASHBOARD_CSS = `
form.inline { display: inline-block; margin: 0 0.25rem 0 0; }
form.inline button { margin: 0; padding: 0.3rem 0.7rem; font-size: 0.875rem; }
.form-error { color: var(--pico-del-color); }
.form-warning { color: #8a5a00; }
.notice { color: var(--pico-ins-color); }
td form.inline:last-child { margin-right: 0; }
table input, table select { margin-bottom: 0; }
.compose { max-height: 40rem; overflow: auto; }
.secret { font-family: var(--pico-font-family-monospace); word-break: break-all; }
.hljs-attr { color: #2b6cb0; }
.hljs-string { color: #2f855a; }
.hljs-number, .hljs-literal { color: #b7791f; }
.hljs-comment { color: #718096; font-style: italic; }
.hljs-bullet, .hljs-meta { color: #805ad5; }
[data-theme=dark] .hljs-attr, :root:not([data-theme=light]) .hljs-attr { color: #90cdf4; }
.app-card header { display: flex; justify-content: space-between; align-items: center; gap: 1rem; flex-wrap: wrap; }
.app-card header h3 { margin: 0; }
.grid-2 { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
`;

export const DASHBOARD_JS = `
document.addEventListener('submit', function (event) {
  var form = event.target.closest('form[data-confirm]');
  if (form && !window.confirm(form.getAttribute('data-confirm'))) event.preventDefault();
});
document.addEventListener('click', function (event) {
  var button = event.target.closest('button[data-copy]');
  if (!button) return;
  var source = document.getElementById(button.getAttribute('data-copy'));
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(function () {
    button.textContent = 'Copied';
  });
});
`;
