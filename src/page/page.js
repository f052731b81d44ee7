// The collection page: the table of neurons from the JSON data above, sorted and filtered
// in arrays, with only the rows on screen in the document (a spacer above and below), so
// that tens of thousands of neurons open and filter at once. Server text is only ever put
// into the page as text (textContent, attribute values), never as markup.
(function () {
  'use strict';
  var started = performance.now();
  var ROW = 88;
  var OVERSCAN = 8;
  var FIXED = 3; // id, thumbnail, files come before the cells
  var data = JSON.parse(document.getElementById('page-data').textContent);
  var cols = data.columns;
  var keyIndex = {};
  cols.forEach(function (c, i) { keyIndex[c.key] = i; });
  var rows = data.rows.map(function (r, i) {
    var cells = r.slice(FIXED);
    return {
      id: r[0], thumb: r[1], files: r[2] || [], cells: cells, index: i,
      low: cells.map(function (v) { return v === null || v === undefined ? '' : String(v).toLowerCase(); })
    };
  });
  var state = { filters: {}, sort: null, desc: false };
  var view = rows;
  var built = new Map();
  var tbody = document.getElementById('rows');
  var heads = document.getElementById('heads');
  var filterRow = document.getElementById('filters');
  var shown = document.getElementById('shown');
  var share = document.getElementById('share');
  var hasErrors = document.getElementById('has-errors');
  var search = document.getElementById('search');
  var inputs = {};
  var ncols = cols.length + 2;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  // --- the address: #key=value&key2=value2&sort=-key
  function parseHash() {
    var filters = {};
    var sort = null;
    var desc = false;
    location.hash.replace(/^#/, '').split('&').forEach(function (part) {
      if (!part) return;
      var eq = part.indexOf('=');
      var k = eq < 0 ? part : part.slice(0, eq);
      var v = eq < 0 ? '' : part.slice(eq + 1);
      try {
        k = decodeURIComponent(k.replace(/\+/g, ' '));
        v = decodeURIComponent(v.replace(/\+/g, ' '));
      } catch (e) {
        return;
      }
      if (k === 'sort') {
        desc = v.charAt(0) === '-';
        sort = desc ? v.slice(1) : v;
      } else if (v !== '') {
        filters[k] = v;
      }
    });
    state.filters = filters;
    state.sort = Object.prototype.hasOwnProperty.call(keyIndex, sort) ? sort : null;
    state.desc = desc;
  }

  function hashText() {
    var parts = [];
    Object.keys(state.filters).forEach(function (k) {
      if (state.filters[k] !== '') parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(state.filters[k]));
    });
    if (state.sort) parts.push('sort=' + (state.desc ? '-' : '') + encodeURIComponent(state.sort));
    return parts.length ? '#' + parts.join('&') : '';
  }

  function saveHash() {
    var h = hashText();
    history.replaceState(null, '', h || location.pathname + location.search);
    share.href = h || '#';
  }

  // --- one filter value: "a" contains a, "\"a\"" is a, "!a" the opposite; >3 <=2.5 =0 on numbers
  function tester(value) {
    var v = value.trim();
    var negate = false;
    if (v.charAt(0) === '!') {
      negate = true;
      v = v.slice(1);
    }
    var t;
    var m = /^(>=|<=|>|<|=)\s*(-?\d+(?:\.\d*)?(?:e-?\d+)?)$/i.exec(v);
    if (m) {
      var op = m[1];
      var x = parseFloat(m[2]);
      t = function (raw) {
        if (raw === null || raw === undefined || raw === '') return false;
        var n = Number(raw);
        if (isNaN(n)) return false;
        return op === '>' ? n > x : op === '<' ? n < x : op === '>=' ? n >= x : op === '<=' ? n <= x : n === x;
      };
    } else if (v.length >= 2 && v.charAt(0) === '"' && v.charAt(v.length - 1) === '"') {
      var exact = v.slice(1, -1).toLowerCase();
      t = function (raw, low) { return low === exact; };
    } else {
      var part = v.toLowerCase();
      t = function (raw, low) { return low.indexOf(part) >= 0; };
    }
    return negate ? function (raw, low) { return !t(raw, low); } : t;
  }

  function apply() {
    var t0 = performance.now();
    var tests = [];
    var unknown = [];
    Object.keys(state.filters).forEach(function (k) {
      var t = tester(state.filters[k]);
      if (k === 'q') {
        tests.push(function (r) {
          for (var i = 0; i < r.low.length; i++) if (t(r.cells[i], r.low[i])) return true;
          return false;
        });
      } else if (Object.prototype.hasOwnProperty.call(keyIndex, k)) {
        var i = keyIndex[k];
        tests.push(function (r) { return t(r.cells[i], r.low[i]); });
      } else {
        unknown.push(k);
      }
    });
    view = tests.length ? rows.filter(function (r) {
      for (var i = 0; i < tests.length; i++) if (!tests[i](r)) return false;
      return true;
    }) : rows.slice();
    if (state.sort) {
      var i = keyIndex[state.sort];
      var numeric = cols[i].kind === 'num';
      var dir = state.desc ? -1 : 1;
      view.sort(function (a, b) {
        var x = numeric ? a.cells[i] : a.low[i];
        var y = numeric ? b.cells[i] : b.low[i];
        var xe = x === null || x === '';
        var ye = y === null || y === '';
        if (xe || ye) return xe === ye ? a.index - b.index : xe ? 1 : -1; // empty last
        if (x < y) return -dir;
        if (x > y) return dir;
        return a.index - b.index;
      });
    }
    Array.prototype.forEach.call(heads.children, function (th) {
      var k = th.getAttribute('data-key');
      if (!k) return;
      th.setAttribute('aria-sort', k === state.sort ? (state.desc ? 'descending' : 'ascending') : 'none');
    });
    var text = view.length + ' of ' + rows.length + ' neurons';
    if (unknown.length) text += ' (no column ' + unknown.join(', ') + ')';
    shown.textContent = text;
    shown.setAttribute('data-count', String(view.length));
    render(true);
    // For a benchmark: how long the last filter took, and how long the page took to open.
    shown.setAttribute('data-apply-ms', (performance.now() - t0).toFixed(1));
  }

  // --- rows, built when first shown and kept
  function cellText(c, v) {
    if (v === null || v === undefined) return '';
    if (c.kind === 'num' && typeof v === 'number' && v % 1 !== 0) return v.toFixed(1);
    return String(v);
  }

  function rowElement(r) {
    var tr = built.get(r.index);
    if (tr) return tr;
    tr = el('tr', 'row');
    if (r.id !== null && r.id !== undefined) tr.setAttribute('data-id', String(r.id));
    var thumb = el('td', 'thumb');
    if (r.thumb) {
      var a = el('a');
      a.href = r.thumb;
      var img = el('img');
      img.loading = 'lazy';
      img.decoding = 'async';
      img.width = 80;
      img.height = 80;
      img.alt = '';
      img.src = r.thumb;
      a.appendChild(img);
      thumb.appendChild(a);
    } else {
      thumb.appendChild(el('span', '', r.files.length ? 'no picture' : 'no file'));
    }
    tr.appendChild(thumb);
    cols.forEach(function (c, i) {
      var v = r.cells[i];
      var td;
      if (c.kind === 'verdict') {
        td = el('td', 'verdict-cell');
        td.appendChild(el('span', 'verdict v-' + String(v).replace(/[^a-z]+/g, '-'), v));
      } else if (c.key === 'name') {
        td = el('td', 'name', cellText(c, v));
        if (r.id !== null && r.id !== undefined) td.appendChild(el('small', '', 'id ' + r.id));
      } else {
        td = el('td', c.kind === 'num' ? 'num' : '', cellText(c, v));
      }
      td.title = cellText(c, v);
      tr.appendChild(td);
    });
    var files = el('td', 'files');
    r.files.forEach(function (f) {
      var a = el('a', '', f[0]);
      a.href = f[1];
      files.appendChild(a);
    });
    tr.appendChild(files);
    built.set(r.index, tr);
    return tr;
  }

  function spacer(px) {
    var tr = el('tr', 'spacer-row');
    var td = el('td', 'spacer');
    td.colSpan = ncols;
    td.style.height = px + 'px';
    tr.appendChild(td);
    return tr;
  }

  var drawn = { first: -1, last: -1 };
  function render(force) {
    var top = tbody.getBoundingClientRect().top + window.scrollY;
    var first = Math.max(0, Math.floor((window.scrollY - top) / ROW) - OVERSCAN);
    var last = Math.min(view.length, first + Math.ceil(window.innerHeight / ROW) + 2 * OVERSCAN);
    if (first >= view.length) first = Math.max(0, last - 1);
    if (!force && first === drawn.first && last === drawn.last) return;
    drawn = { first: first, last: last };
    var frag = document.createDocumentFragment();
    if (first > 0) frag.appendChild(spacer(first * ROW));
    for (var i = first; i < last; i++) frag.appendChild(rowElement(view[i]));
    if (view.length > last) frag.appendChild(spacer((view.length - last) * ROW));
    if (view.length === 0) {
      var tr = el('tr');
      var td = el('td', 'empty', 'No neuron matches.');
      td.colSpan = ncols;
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    tbody.replaceChildren(frag);
  }

  var frame = 0;
  function onScroll() {
    if (frame) return;
    frame = requestAnimationFrame(function () {
      frame = 0;
      render(false);
    });
  }

  // --- the header: a sort button and a filter box per column
  function syncInputs() {
    Object.keys(inputs).forEach(function (k) { inputs[k].value = state.filters[k] || ''; });
    search.value = state.filters.q || '';
    hasErrors.checked = state.filters.verdict === 'errors';
  }

  var timer = 0;
  function setFilter(k, v) {
    if (v) state.filters[k] = v; else delete state.filters[k];
    clearTimeout(timer);
    timer = setTimeout(function () {
      saveHash();
      apply();
    }, 120);
  }

  function header() {
    heads.appendChild(el('th', 'thumb', 'picture'));
    filterRow.appendChild(el('th'));
    cols.forEach(function (c) {
      var th = el('th');
      th.setAttribute('data-key', c.key);
      var b = el('button', '', c.label);
      b.type = 'button';
      b.addEventListener('click', function () {
        if (state.sort === c.key) state.desc = !state.desc;
        else {
          state.sort = c.key;
          state.desc = false;
        }
        saveHash();
        apply();
      });
      th.appendChild(b);
      heads.appendChild(th);
      var f = el('th');
      var input = el('input');
      input.type = 'text';
      input.setAttribute('aria-label', 'filter ' + c.label);
      input.placeholder = c.kind === 'num' ? '>0' : 'filter';
      input.addEventListener('input', function () { setFilter(c.key, input.value); });
      inputs[c.key] = input;
      f.appendChild(input);
      filterRow.appendChild(f);
    });
    heads.appendChild(el('th', '', 'files'));
    filterRow.appendChild(el('th'));
  }

  header();
  search.addEventListener('input', function () { setFilter('q', search.value); });
  hasErrors.addEventListener('change', function () { setFilter('verdict', hasErrors.checked ? 'errors' : ''); });
  document.getElementById('reset').addEventListener('click', function () {
    state.filters = {};
    syncInputs();
    saveHash();
    apply();
  });
  window.addEventListener('hashchange', function () {
    parseHash();
    syncInputs();
    apply();
  });
  window.addEventListener('scroll', onScroll, { passive: true });
  window.addEventListener('resize', function () { render(true); });
  parseHash();
  syncInputs();
  share.href = hashText() || '#';
  apply();
  document.documentElement.setAttribute('data-script-ms', (performance.now() - started).toFixed(1));
  document.documentElement.setAttribute('data-open-ms', performance.now().toFixed(1));
})();
