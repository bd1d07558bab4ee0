// Checkstack's pages work without this script; with it they update live.
// It listens to the same signal stream as any client (/api/signals) and,
// when a signal the page lists in <body data-refresh> arrives, refetches
// the page's main content through the same page (and so the same
// procedures) and swaps it in. RESYNC, a dropped stream and a reconnect
// refetch too: whatever was missed is read again.
(function () {
  'use strict';

  var body = document.body;
  var main = document.getElementById('main');
  var refreshOn = (body.getAttribute('data-refresh') || '').split(' ').filter(Boolean);
  var signedIn = body.hasAttribute('data-user');
  var system = body.getAttribute('data-system'); // a system's page: only its signals matter
  var bell = document.getElementById('bell-count');

  // Health check forms: show only the fields of the kind chosen.
  function strategies() {
    var form = document.getElementById('check-form');
    if (!form) { return; }
    var pick = form.querySelector('select[name="strategy"]');
    function show() {
      form.querySelectorAll('fieldset.strategy').forEach(function (fs) {
        var on = fs.getAttribute('data-strategy') === pick.value;
        fs.hidden = !on;
        fs.disabled = !on;
      });
    }
    pick.addEventListener('change', show);
    show();
  }
  strategies();

  if (!window.EventSource || (!refreshOn.length && !bell)) { return; }

  var inFlight = false, again = false, timer = null, refreshes = 0;

  // about tells whether a signal's payload concerns this page: on a
  // system's page, a signal naming other systems only does not.
  function about(ev) {
    if (!system || !ev || !ev.data) { return true; }
    try {
      var p = JSON.parse(ev.data).payload || {};
      var ids = [];
      if (p.systemId) { ids.push(p.systemId); }
      if (p.systemIds) { ids = ids.concat(p.systemIds); }
      if (p.previousSystemIds) { ids = ids.concat(p.previousSystemIds); }
      return ids.length === 0 || ids.indexOf(system) >= 0;
    } catch (e) { return true; }
  }

  function refresh(ev) {
    if (!main || !refreshOn.length || !about(ev)) { return; }
    if (timer) { return; }
    // Coalesce a burst of signals into one read; a visitor of the public
    // page waits a moment more, at random, so that a crowd does not come
    // back all at once.
    var delay = signedIn ? 100 : 100 + Math.random() * 1500;
    timer = setTimeout(function () { timer = null; load(); }, delay);
  }

  function load() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    fetch(location.href, { headers: { 'X-Checkstack-Partial': 'main' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) {
        if (r.redirected || !r.ok) { return null; }
        return r.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        // Keep the focus where it was: on the element with the same id,
        // else on the same-numbered focusable element of the new content.
        var active = document.activeElement;
        var inside = active && active !== main && main.contains(active);
        var focusable = 'a[href], button, input, select, textarea, summary, [tabindex]';
        var index = inside ? Array.prototype.indexOf.call(main.querySelectorAll(focusable), active) : -1;
        var id = inside && active.id;
        main.innerHTML = html;
        strategies();
        if (inside) {
          var el = (id && document.getElementById(id)) || main.querySelectorAll(focusable)[index];
          if (el) { el.focus(); }
        }
        refreshes++;
        main.setAttribute('data-refreshes', String(refreshes));
      })
      .catch(function () { /* offline: the next signal or reconnect reads again */ })
      .then(function () {
        inFlight = false;
        if (again) { again = false; load(); }
      });
  }

  function unread() {
    if (!bell) { return; }
    fetch('/api/notification/getUnreadCount', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: '{}'
    })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (out) {
        if (!out) { return; }
        bell.textContent = String(out.count);
        bell.classList.toggle('zero', out.count === 0);
      })
      .catch(function () {});
  }

  function everything() { refresh(); unread(); }

  var live = document.getElementById('live');
  var opened = false;
  var es = null;
  var retry = 5000; // after a refused stream; doubles to a minute

  // A page left for another (and perhaps kept in the back-forward cache)
  // closes its stream: browsers allow a handful of connections per site,
  // and streams of pages no one sees would take them all. Back on it, it
  // opens again and reads what it missed.
  window.addEventListener('pagehide', function () {
    if (es) { es.close(); es = null; }
  });
  window.addEventListener('pageshow', function (e) {
    if (e.persisted && !es) { connect(); everything(); }
  });

  function connect() {
    es = new EventSource('/api/signals');
    var self = es;
    es.addEventListener('open', function () {
      if (live) { live.textContent = 'updates live'; }
      body.setAttribute('data-live', 'open');
      if (opened) { everything(); } // a reconnect: read what was missed
      opened = true;
      retry = 5000;
    });
    es.addEventListener('error', function () {
      if (live) { live.textContent = 'reconnecting…'; }
      body.setAttribute('data-live', 'reconnecting');
      // EventSource reconnects by itself (retry: 3000), unless the server
      // refused the stream outright.
      if (self.readyState === EventSource.CLOSED && es === self) {
        es = null;
        setTimeout(function () { if (!es) { connect(); } }, retry);
        retry = Math.min(retry * 2, 60000);
      }
    });
    refreshOn.forEach(function (name) { es.addEventListener(name, refresh); });
    es.addEventListener('RESYNC', function () { refresh(); unread(); });
    es.addEventListener('dropped', function () {
      // Fell behind: the server ends the stream; reconnect and read again.
      self.close();
      if (es === self) { es = null; }
      everything();
      setTimeout(function () { if (!es) { connect(); } }, 500);
    });
    if (signedIn) {
      ['NOTIFICATION_RECEIVED', 'NOTIFICATION_READ', 'NOTIFICATION_DELETED'].forEach(function (name) {
        es.addEventListener(name, unread);
      });
    }
  }
  connect();
})();
