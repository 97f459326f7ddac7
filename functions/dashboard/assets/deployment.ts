// The deployment page's script (functions/dashboard/deployments/deployment-page.tsx). Plain
// JavaScript, served by the Worker. The page is rendered from the event log; live.ts then dispatches
// each later event once (`deployment-event` on document.body). This appends it to the log (a row already
// there, by seq, is not added again); the status, progress, reason, checklist and buttons are the
// server's part of the page, which htmx fetches again on the same event (services/deployment-steps.ts
// computes them, here nothing does). A row's time is shown as components/dates.ts timeOfDay shows it.

export const DEPLOYMENT_CSS = `
.deployment-head { display: flex; justify-content: space-between; align-items: baseline; gap: 1rem; flex-wrap: wrap; }
.deployment-head h1 { margin-bottom: 0.5rem; }
.deploy-status { font-weight: 600; font-family: var(--pico-font-family-monospace); }
.status-completed { color: var(--pico-ins-color); }
.status-failed, .status-error, .status-cancelled, .status-timed_out { color: var(--pico-del-color); }
.deployment-progress { display: flex; align-items: center; gap: 0.75rem; }
.deployment-progress progress { margin: 0; flex: 1; }
.deployment-steps { list-style: none; padding-left: 0; }
.deployment-steps li { list-style: none; margin-bottom: 0.35rem; }
.deployment-steps .step-mark { display: inline-block; width: 1.5rem; text-align: center; font-weight: 700; }
.deployment-steps [data-state=done] .step-mark { color: var(--pico-ins-color); }
.deployment-steps [data-state=failed] .step-mark, .deployment-steps [data-state=failed] .step-state { color: var(--pico-del-color); }
.deployment-steps [data-state=running] .step-mark { color: var(--pico-primary); }
.deployment-steps .step-state { color: var(--pico-muted-color); margin-left: 0.25rem; }
.deployment-log { table-layout: fixed; }
.deployment-log .log-time { width: 8rem; }
.deployment-log .log-status { width: 9rem; }
.deployment-log .log-step { width: 9rem; }
.deployment-log td { vertical-align: top; overflow-wrap: anywhere; }
.live-status { color: var(--pico-muted-color); }
.deployment-log td:first-child { white-space: nowrap; font-family: var(--pico-font-family-monospace); }
`;

export const DEPLOYMENT_JS = `
(function () {
  var log = document.querySelector('[data-deployment-log]');
  if (!log) return;

  function cell(text) {
    var td = document.createElement('td');
    td.textContent = text;
    return td;
  }

  function rowOf(event) {
    var tr = document.createElement('tr');
    tr.setAttribute('data-seq', String(event.seq));
    tr.setAttribute('data-kind', event.kind);
    if (event.status !== null) tr.setAttribute('data-status', event.status);
    if (event.subject !== null) tr.setAttribute('data-subject', event.subject);
    if (event.progress !== null) tr.setAttribute('data-progress', String(event.progress));
    var td = document.createElement('td');
    var time = document.createElement('time');
    time.setAttribute('datetime', event.at);
    time.textContent = String(event.at).slice(11, 19);
    td.appendChild(time);
    tr.appendChild(td);
    tr.appendChild(cell(event.status === null ? event.kind : event.status));
    tr.appendChild(cell(event.subject === null ? '' : event.subject));
    var message = cell(event.message === null ? '' : event.message);
    message.className = 'log-message';
    tr.appendChild(message);
    return tr;
  }

  document.body.addEventListener('deployment-event', function (dom) {
    var event = dom.detail;
    if (!event || typeof event.seq !== 'number') return;
    if (log.querySelector('tr[data-seq="' + event.seq + '"]')) return;
    log.appendChild(rowOf(event));
  });
})();
`;
