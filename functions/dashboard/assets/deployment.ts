// The deployment page's script (functions/dashboard/deployments.tsx). Plain JavaScript, served by
// the Worker. The page is rendered from the event log; live.ts then dispatches each later event once
// (`deployment-event` on document.body). This appends it to the log (a row already there, by seq, is
// not added again) and recomputes the status, progress, reason, checklist and Cancel button from the
// log's rows, as deploymentState() does on the server.
import { TERMINAL_STATUSES } from '../../services/deployments.ts';

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
  var TERMINAL = ${JSON.stringify(TERMINAL_STATUSES)};
  var DEPLOYMENT_KINDS = ['created', 'progress', 'cancelled', 'timed_out'];
  var MARKS = { pending: '\\u25cb', running: '\\u25d0', done: '\\u2713', failed: '\\u2717' };
  var isTerminal = function (status) { return TERMINAL.indexOf(status) >= 0; };
  var q = function (selector) { return document.querySelector(selector); };
  var attr = function (row, name) { var value = row.getAttribute(name); return value === null ? null : value; };

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

  function stepState(last, latest, status) {
    if (last === 'failed' || last === 'error') return 'failed';
    if (!latest || status === 'completed') return 'done';
    if (isTerminal(status)) return 'failed';
    return last === 'wait_start' ? 'pending' : 'running';
  }

  function render() {
    var statusEl = q('[data-deployment-status]');
    var status = statusEl ? statusEl.textContent : '';
    var progress = null;
    var message = null;
    var steps = [];
    var rows = log.querySelectorAll('tr[data-seq]');
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var kind = attr(row, 'data-kind');
      if (DEPLOYMENT_KINDS.indexOf(kind) < 0) continue;
      var rowStatus = attr(row, 'data-status');
      if (rowStatus !== null) {
        status = rowStatus;
        var text = row.querySelector('.log-message');
        message = text ? text.textContent : '';
      }
      var rowProgress = attr(row, 'data-progress');
      if (rowProgress !== null) progress = Number(rowProgress);
      var subject = attr(row, 'data-subject');
      if (kind === 'progress' && subject) {
        var found = null;
        for (var j = 0; j < steps.length; j++) if (steps[j].name === subject) found = steps[j];
        if (found) found.last = rowStatus || found.last;
        else steps.push({ name: subject, last: rowStatus || 'in_progress' });
      }
    }
    var terminal = isTerminal(status);
    if (statusEl) {
      statusEl.textContent = status;
      statusEl.className = 'deploy-status status-' + status;
    }
    var bar = q('[data-deployment-progress]');
    if (bar && progress !== null) {
      var value = Math.max(0, Math.min(100, progress));
      bar.value = value;
      bar.textContent = value + '%';
      var label = q('[data-deployment-progress-text]');
      if (label) label.textContent = value + '%';
    }
    var root = q('[data-deployment]');
    if (root) root.setAttribute('data-terminal', String(terminal));
    var reason = q('[data-deployment-reason]');
    if (reason) {
      reason.hidden = !terminal;
      reason.className = status === 'completed' ? 'notice' : 'form-error';
      reason.textContent = terminal ? message || '' : '';
    }
    var cancel = q('[data-deployment-cancel]');
    if (cancel && terminal) {
      cancel.hidden = true;
      cancel.textContent = '';
    }
    var list = q('[data-deployment-steps]');
    if (list) {
      list.textContent = '';
      for (var k = 0; k < steps.length; k++) {
        var state = stepState(steps[k].last, k === steps.length - 1, status);
        var li = document.createElement('li');
        li.setAttribute('data-step', steps[k].name);
        li.setAttribute('data-state', state);
        var mark = document.createElement('span');
        mark.className = 'step-mark';
        mark.setAttribute('aria-hidden', 'true');
        mark.textContent = MARKS[state];
        var name = document.createElement('span');
        name.className = 'step-name';
        name.textContent = steps[k].name;
        var small = document.createElement('small');
        small.className = 'step-state';
        small.textContent = state;
        li.appendChild(mark);
        li.appendChild(document.createTextNode(' '));
        li.appendChild(name);
        li.appendChild(document.createTextNode(' '));
        li.appendChild(small);
        list.appendChild(li);
      }
    }
    var none = q('[data-deployment-no-steps]');
    if (none) {
      none.hidden = steps.length > 0;
      if (terminal) none.textContent = 'The install service reported no steps.';
    }
  }

  document.body.addEventListener('deployment-event', function (dom) {
    var event = dom.detail;
    if (!event || typeof event.seq !== 'number') return;
    if (log.querySelector('tr[data-seq="' + event.seq + '"]')) return;
    log.appendChild(rowOf(event));
    render();
  });
})();
`;
