// The agent page's script (see functions/dashboard/agent-console.tsx). Plain JavaScript, served by the Worker.
//  - The agent's last heartbeat ticks: a <time data-age-seconds="N"> is N s old when the page (or the
//    fragment htmx swapped in) arrived, counted from the server's clock, so the browser's clock does not
//    matter; past data-offline-after seconds the [data-liveness] badge says offline (as the server
//    would on its next render).
//  - The command form: the example parameters of the chosen type as the placeholder, and the
//    "Another type" field only when that is the choice.
export const AGENT_JS = `
(function () {
  var ago = function (s) {
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  };
  var tick = function () {
    var now = Date.now();
    document.querySelectorAll('[data-age-seconds]').forEach(function (el) {
      if (!el.hasAttribute('data-t0')) el.setAttribute('data-t0', String(now));
      var age = Number(el.getAttribute('data-age-seconds')) + Math.floor((now - Number(el.getAttribute('data-t0'))) / 1000);
      var text = 'seen ' + ago(age);
      if (el.textContent !== text) el.textContent = text;
      var limit = Number(el.getAttribute('data-offline-after') || '0');
      var badge = document.querySelector('[data-liveness]');
      if (limit > 0 && age > limit && badge && badge.textContent !== 'offline') {
        badge.textContent = 'offline';
        badge.className = 'badge badge-bad';
      }
    });
  };
  tick();
  setInterval(tick, 1000);

  var type = document.getElementById('field-command_type');
  var other = document.querySelector('[data-other-type]');
  var parameters = document.getElementById('field-parameters');
  if (!type) return;
  var examples = {};
  try { examples = JSON.parse((parameters && parameters.getAttribute('data-examples')) || '{}'); } catch (e) {}
  var chosen = function () {
    if (other) other.hidden = type.value !== 'other';
    if (parameters) parameters.placeholder = examples[type.value] || '{}';
  };
  type.addEventListener('change', chosen);
  chosen();
})();
`;

/** The agent page's own styles (on top of Pico and dashboard.css), inlined in the page. */
export const AGENT_CSS = `
.agent-top { align-items: start; }
.agent-top > article { margin-bottom: 0; }
.panel-header { display: flex; justify-content: space-between; align-items: center; gap: 1rem; margin-bottom: 1rem; }
.panel-header h2 { margin: 0; }
.panel-footer { margin-top: 1rem; }
.badge { display: inline-block; padding: 0.1rem 0.6rem; border-radius: 1rem; font-size: 0.8rem; font-weight: 600; line-height: 1.5; white-space: nowrap; }
.badge-ok { background: #d1f5dc; color: #0f5c2e; }
.badge-bad { background: #fbd9d9; color: #8a1c1c; }
.badge-wait { background: #fdf0c4; color: #6b4e00; }
.badge-muted { background: #e5e7eb; color: #374151; }
table.facts th { width: 9rem; font-weight: 600; }
table.facts th, table.facts td { padding: 0.4rem 0.5rem; }
code.chip { margin: 0 0.25rem 0.25rem 0; display: inline-block; font-size: 0.8rem; }
table.commands td { vertical-align: top; }
table.commands td.result { min-width: 16rem; max-width: 32rem; }
pre.json { margin: 0.25rem 0 0; max-height: 16rem; overflow: auto; font-size: 0.8rem; white-space: pre-wrap; word-break: break-word; }
pre.json code { padding: 0.5rem 0.75rem; display: block; }
table.commands details { margin: 0.25rem 0 0; }
table.commands details summary { font-size: 0.85rem; }
[data-other-type][hidden] { display: none; }
`;
