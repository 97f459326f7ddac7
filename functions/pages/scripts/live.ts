// Follows a deployment's event log for the page: the element with data-events-url names the stream
// (an SSE route of the dashboard) and data-after the last event the page was rendered with. Each new
// event is dispatched once, in order, as a `deployment-event` DOM event on document.body (detail: the
// event); htmx can refresh a fragment on it (hx-trigger="deployment-event from:body"). A reconnect
// (dropped connection, sleeping laptop) resumes after the last event seen: EventSource sends it back
// as Last-Event-ID, and an event at or before it is dropped, so nothing shows twice or goes missing.
export const LIVE_JS = `
(function () {
  var root = document.querySelector('[data-events-url]');
  if (!root || !window.EventSource) return;
  var last = Number(root.getAttribute('data-after') || '0');
  var status = document.querySelector('[data-live-status]');
  var say = function (text) { if (status) status.textContent = text; };
  var source = new EventSource(root.getAttribute('data-events-url') + '?after=' + last);
  source.addEventListener('open', function () { say('Live'); });
  source.addEventListener('error', function () { say(source.readyState === 2 ? 'Not following: reload the page' : 'Reconnecting…'); });
  source.addEventListener('deployment', function (message) {
    var event = JSON.parse(message.data);
    if (event.seq <= last) return;
    last = event.seq;
    root.setAttribute('data-after', String(last));
    document.body.dispatchEvent(new CustomEvent('deployment-event', { detail: event }));
  });
})();
`;
