(function () {
  var cfg = __CONFIG__;
  var me = document.currentScript;
  var api = me && me.src ? new URL(me.src).origin : location.origin;
  var current = null, heartbeat = null;

  function cookie(name) {
    var m = document.cookie.match(new RegExp('(?:^|; )' + name + '=([^;]*)'));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function clientId() {
    var id = cookie('_ct_cid');
    if (!id) {
      var ga = cookie('_ga');  // GA1.1.123.456: reuse the analytics id so reports can be joined
      id = ga ? ga.split('.').slice(-2).join('.') : cookie('_ym_uid');
    }
    if (!id) id = Date.now().toString(36) + '.' + Math.random().toString(36).slice(2, 10);
    // The shared domain (www. and m. as one visitor) where this page is in it; a browser ignores it elsewhere.
    var shared = (cfg.cookieDomain || '').replace(/^\./, '').toLowerCase(), host = location.hostname.toLowerCase();
    var inShared = shared && (host === shared || host.slice(-shared.length - 1) === '.' + shared);
    document.cookie = '_ct_cid=' + encodeURIComponent(id) + '; path=/; max-age=31536000; SameSite=Lax' +
      (inShared ? '; domain=' + shared : '');
    return id;
  }
  var national = function (s) { return s.replace(/\D/g, '').slice(-cfg.digits); };
  // Writes the new national digits into the old number's digit places, keeping its format.
  function rewrite(text, digits) {
    var i = digits.length, out = '';
    for (var k = text.length - 1; k >= 0; k--) {
      var c = text.charAt(k);
      out = (/\d/.test(c) && i > 0 ? digits.charAt(--i) : c) + out;
    }
    return out;
  }
  var pattern = /\+?\d[\d\s().\-]{6,}\d/g;
  function replaceIn(text, digits) {
    return text.replace(pattern, function (m) {
      return cfg.numbers.indexOf(national(m)) >= 0 || (current && national(m) === current.old) ? rewrite(m, digits) : m;
    });
  }
  // Never edited: code, styles, form fields, editable content, and what the site marks.
  var untouchable = /^(SCRIPT|STYLE|NOSCRIPT|TEXTAREA|INPUT|SELECT|OPTION|TEMPLATE|IFRAME)$/;
  // (Attributes, not isContentEditable: that one makes the browser recompute styles on a busy page.)
  function untouched(el) {
    if (untouchable.test(el.nodeName) || el.hasAttribute('data-calltrack-noswap')) return true;
    var editable = el.getAttribute('contenteditable');
    return editable !== null && editable !== 'false';
  }
  function inUntouched(node) {
    for (var e = node.nodeType === 1 ? node : node.parentNode; e && e.nodeType === 1; e = e.parentNode) {
      if (untouched(e)) return true;
    }
    return false;
  }
  // The text nodes under root (root itself when it is one) that may be edited.
  function eachText(root, fn) {
    if (!root || inUntouched(root)) return;
    if (root.nodeType === 3) return fn(root);
    if (root.nodeType !== 1) return;
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT, {
      acceptNode: function (n) {
        return n.nodeType === 3 ? NodeFilter.FILTER_ACCEPT : untouched(n) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_SKIP;
      }
    }), n, list = [];
    while ((n = walker.nextNode())) list.push(n);
    list.forEach(fn);
  }
  function within(root, selector) {
    if (root.nodeType !== 1) return [];
    var found = Array.prototype.slice.call(root.querySelectorAll(selector));
    if (root.matches(selector)) found.push(root);
    return found.filter(function (el) { return !inUntouched(el); });
  }
  // Swaps the numbers under root; swap() does the whole page.
  function swapIn(root) {
    if (!current) return;
    var d = national(current.number);
    eachText(root, function (n) {
      var t = replaceIn(n.nodeValue, d);
      if (t !== n.nodeValue) n.nodeValue = t;
    });
    if (cfg.selector) within(root, cfg.selector).forEach(function (el) {
      if (el.textContent !== current.formatted) el.textContent = current.formatted;
    });
    within(root, 'a[href^="tel:"]').forEach(function (a) {
      var h = a.getAttribute('href'), r = replaceIn(h, d);
      if (r !== h) a.setAttribute('href', r);
    });
  }
  var swap = timed(function () {
    edit(function () { swapIn(document.body); });
    if (current) current.old = national(current.number);
  });
  // What the page changes later is swapped too: the changed nodes only, a moment after the
  // change (one pass for a burst), and never in reaction to the snippet's own edits.
  var observer = null, pending = [], timer = null;
  function edit(fn) {
    fn();
    if (observer) observer.takeRecords();
  }
  var phoneLike = /\+?\d[\d\s().\-]{6,}\d/;
  function later(node) {
    // A text that changed to something without a number in it needs nothing: on a busy page
    // (a ticker, a price board) that is nearly every change.
    if (node.nodeType === 3 && !phoneLike.test(node.nodeValue)) return;
    pending.push(node);
    if (!timer) timer = setTimeout(flush, 50);
  }
  // With ?timing=1 on the script's URL, the snippet's work shows in the browser's performance
  // timeline as "calltrack" measures (DevTools' Performance panel, performance.getEntriesByName).
  function timed(fn) {
    return function () {
      if (!cfg.timing) return fn.apply(this, arguments);
      var t0 = performance.now();
      try { return fn.apply(this, arguments); } finally { performance.measure('calltrack', { start: t0, end: performance.now() }); }
    };
  }
  var flush = timed(function () {
    timer = null;
    var roots = pending;
    pending = [];
    edit(function () {
      roots.forEach(function (n) {
        if (!n.isConnected) return;
        if (current) swapIn(n);
        else if (cfg.reveal && !heartbeat) mask(n);
      });
    });
  });
  function watch() {
    if (!window.MutationObserver || !document.body) return;
    observer = new MutationObserver(timed(function (records) {
      for (var i = 0; i < records.length; i++) {
        var r = records[i];
        if (r.type === 'childList') for (var j = 0; j < r.addedNodes.length; j++) later(r.addedNodes[j]);
        else later(r.target);
      }
    }));
    observer.observe(document.body, { childList: true, subtree: true, characterData: true, attributes: true,
                                      attributeFilter: ['href'] });
    // A single-page app's navigation: the next view is swapped whole.
    ['pushState', 'replaceState'].forEach(function (m) {
      var original = history[m];
      if (typeof original !== 'function') return;
      history[m] = function () {
        var result = original.apply(this, arguments);
        later(document.body);
        return result;
      };
    });
    window.addEventListener('popstate', function () { later(document.body); });
  }
  function reserve() {
    if (!window.fetch) return;
    var q = new URLSearchParams(location.search);
    var body = { client_id: clientId(), page: location.href, referrer: document.referrer || null };
    ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content', 'gclid', 'yclid'].forEach(function (k) {
      if (q.get(k)) body[k] = q.get(k);
    });
    // The analytics counters' own visitor ids, so calls can be sent to GA4 and Metrica.
    var ga = cookie('_ga'), ym = cookie('_ym_uid');
    if (ga && /^GA\d\.\d+\.\d+\.\d+$/.test(ga)) body.ga_client_id = ga.split('.').slice(-2).join('.');
    if (ym && /^\d{1,32}$/.test(ym)) body.ym_client_id = ym;
    fetch(api + '/v1/projects/' + cfg.key + '/reservations', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body)
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (res) {
      if (!res) return;
      var old = current ? current.old : null;
      current = { number: res.number, kind: res.kind, formatted: res.formatted, old: old };
      edit(unmask);
      swap();
    }).catch(function () { /* CallTrack unreachable: the page keeps the business number */ });
  }
  // Click-to-reveal: numbers are shown masked until the visitor clicks one, and only then is a
  // pool number reserved, so a tight pool serves the visitors who want to call.
  var masks = [];
  function mask(root) {
    eachText(root, function (n) {
      var text = n.nodeValue, m, last = 0, frag = document.createDocumentFragment();
      pattern.lastIndex = 0;
      while ((m = pattern.exec(text))) {
        if (cfg.numbers.indexOf(national(m[0])) < 0) continue;
        frag.appendChild(document.createTextNode(text.slice(last, m.index)));
        var span = document.createElement('span');
        span.className = 'calltrack-reveal';
        span.setAttribute('role', 'button');
        span.setAttribute('data-number', m[0]);
        span.textContent = m[0].replace(/\d(?=(\D*\d){0,3}\D*$)/g, '\u2022') + ' \u00bb';
        span.addEventListener('click', start);
        frag.appendChild(span);
        masks.push(span);
        last = m.index + m[0].length;
      }
      if (last > 0) {
        frag.appendChild(document.createTextNode(text.slice(last)));
        n.parentNode.replaceChild(frag, n);
      }
    });
  }
  function unmask() {
    masks.forEach(function (s) { s.parentNode && s.parentNode.replaceChild(document.createTextNode(s.getAttribute('data-number')), s); });
    masks = [];
  }
  function start() {
    if (heartbeat) return;
    reserve();
    heartbeat = setInterval(function () { if (document.visibilityState === 'visible') reserve(); }, 60000);
  }
  window.CallTrack = { swap: swap, reveal: start, number: function () { return current && current.number; } };
  function begin() {
    if (cfg.reveal) edit(function () { mask(document.body); }); else start();
    watch();
  }
  if (document.body) begin(); else document.addEventListener('DOMContentLoaded', begin);
})();
