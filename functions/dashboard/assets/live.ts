// Follows a deployment's event log for the page: the element with data-events-url names the stream
// (an SSE route of the dashboard) and data-after the last event the page was rendered with. Each new
// event is dispatched once, in order, as a `deployment-event` DOM event on document.body (detail: the
// event); htmx can refresh a fragment on it (hx-trigger="deployment-event from:body"). A reconnect
// (dropped connection, sleeping laptop) resumes after the last event seen: EventSource sends it back
// as Last-Event-ID, and an event at or before it is dropped, so nothing shows twice or goes missing.
// Without EventSource, or when the stream keeps failing or never opens, it long-polls the same route (?poll).
export const LIVE_JS = `
(function () {
  var root = document.querySelector('[data-events-url]');
  if (!root) return;
  var url = root.getAttribute('data-events-url');
  var last = Number(root.getAttribute('data-after') || '0');
  var status = document.querySelector('[data-live-status]');
  var say = function (text) { if (status) status.textContent = text; };
  var deliver = function (event) {
    if (event.seq <= last) return;
    last = event.seq;
    root.setAttribute('data-after', String(last));
    document.body.dispatchEvent(new CustomEvent('deployment-event', { detail: event }));
  };
  // The fallback: long-polls, one after another, from the last event seen.
  var poll = function () {
    say('Live (polling)');
    fetch(url + '?poll=1&after=' + last, { credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (response) { if (!response.ok) throw new Error(String(response.status)); return response.json(); })
      .then(function (answer) { answer.list.forEach(deliver); poll(); })
      .catch(function () { say('Reconnecting…'); setTimeout(poll, 3000); });
  };
  if (!window.EventSource) return poll();
  var failures = 0;
  var opened = false;
  var source = new EventSource(url + '?after=' + last);
  source.addEventListener('open', function () { failures = 0; opened = true; say('Live'); });
  source.addEventListener('error', function () {
    failures += 1;
    // A stream that keeps failing (a proxy that buffers or cuts it) gives way to the long-poll; one
    // that never opened at all (a network that refuses it) at once, not after the browser's retries
    // (about 3 s each, unless the stream said otherwise, which this one never could).
    if (source.readyState === 2 || failures >= 3 || !opened) { source.close(); poll(); } else say('Reconnecting…');
  });
  source.addEventListener('deployment', function (message) { deliver(JSON.parse(message.data)); });
})();
`;
