  /* ------------------------------------------------------------ report_common.js
   * What the report page (report_html.html) and the comparison page (report_diff_html.html)
   * share: the status line, DOM helpers, frame names, the flame graph's tree of functions,
   * search, drawing, tooltip and controls. The Makefile puts this file in place of the line
   * @@TREEPROF_COMMON_JS@@ inside each page's script, so it shares the page's scope: the
   * page declares D (its data), model (a tree from newTree and treeChild), view (.match:
   * the nodes matching the search, or null), zoom (the node shown full width) and query
   * (the search text), and defines nodeName(v), colour(v), tipFor(v), computeMatch() and
   * renderFlame(). ASCII only, like the pages. */
  var statusEl = document.getElementById("status");
  var errors = [];
  function fail(msg) {
    errors.push(String(msg));
    statusEl.textContent = "error: " + errors.join("; ");
    statusEl.className = "bad";
  }
  window.onerror = function (msg, src, line) { fail(msg + " (line " + line + ")"); };
  /* run the page's main; the status says "ok" or every error (the tests read it) */
  function start(main) {
    try {
      main();
      if (!errors.length) statusEl.textContent = "ok";
    } catch (e) {
      fail(e && e.stack ? e.stack : e);
    }
  }

  var KINDS = { 1: "python", 2: "native", 3: "kernel" };
  var ROW = 17;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function basename(f) { return f ? f.slice(f.lastIndexOf("/") + 1) : ""; }
  /* a byte count as B, KiB, MiB, GiB or TiB */
  function fmtBytes(n) {
    var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0, a = Math.abs(n);
    while (a >= 1023.5 && i < u.length - 1) { a /= 1024; i++; }
    return (n < 0 ? "-" : "") + (i ? a.toFixed(a < 9.995 ? 2 : a < 99.95 ? 1 : 0) : Math.round(a)) + u[i];
  }

  function frameName(f) {
    var F = D.frames, name = F.name[f];
    if (F.kind[f] === 2 && name === "[unknown]" && F.file[f])
      return name + " (" + basename(F.file[f]) + ")";
    return name;
  }

  /* ------------------------------------------------------------ the tree of functions */
  /* Each frame's function: frames of the same kind, name and file share one id (byLine:
   * each frame is its own). of[frame] is the id, n how many there are. */
  function functionKeys(byLine) {
    var F = D.frames, nf = F.kind.length, of = new Int32Array(nf), keys = new Map();
    for (var i = 0; i < nf; i++) {
      if (byLine) { of[i] = i; continue; }
      var k = F.kind[i] + "\u0000" + F.name[i] + "\u0000" + F.file[i], id = keys.get(k);
      if (id === undefined) { id = keys.size; keys.set(k, id); }
      of[i] = id;
    }
    return { of: of, n: byLine ? nf : keys.size };
  }

  /* The flame graph's tree: node 0 is the root; a node is a function under its parent
   * (parent, key: its function id, frames: up to 32 of the frames merged in it, kids). */
  function newTree(nkeys) {
    return { parent: [-1], frames: [[]], key: [-1], kids: [[]], K: nkeys + 1, m: new Map() };
  }
  /* The child of v for function key holding frame f, made if new. */
  function treeChild(t, v, key, f) {
    var mk = v * t.K + key, w = t.m.get(mk);
    if (w === undefined) {
      w = t.parent.length;
      t.m.set(mk, w);
      t.parent.push(v);
      t.frames.push([f]);
      t.key.push(key);
      t.kids.push([]);
      t.kids[v].push(w);
    } else if (t.frames[w].length < 32 && t.frames[w].indexOf(f) < 0) {
      t.frames[w].push(f);
    }
    return w;
  }

  /* The nodes of model with a frame whose name or file holds the query (1), case blind. */
  function nodesMatching() {
    var F = D.frames, q = query.toLowerCase(), fm = new Uint8Array(F.kind.length), i;
    for (i = 0; i < fm.length; i++)
      fm[i] = frameName(i).toLowerCase().indexOf(q) >= 0 ||
              (F.file[i] || "").toLowerCase().indexOf(q) >= 0 ? 1 : 0;
    var vm = new Uint8Array(model.parent.length);
    for (var v = 1; v < vm.length; v++)
      vm[v] = model.frames[v].some(function (f) { return fm[f]; }) ? 1 : 0;
    return vm;
  }

  /* ------------------------------------------------------------ flame graph */
  /* Draw model from zoom (the path to it full width), nodes as wide as their weight. */
  function drawFlame(weight, unit) {
    var svg = $("flame"), NS = svg.namespaceURI, W = $("flamebox").clientWidth || 1200;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    if (!weight[zoom]) zoom = 0;
    var path = [];
    for (var a = zoom; a >= 0; a = model.parent[a]) path.unshift(a);
    var zt = weight[zoom], maxDepth = 0;
    function add(v, x, w, depth) {
      var g = document.createElementNS(NS, "g");
      g.setAttribute("data-v", v);
      g.setAttribute("data-name", nodeName(v));
      var r = document.createElementNS(NS, "rect");
      r.setAttribute("x", x.toFixed(2));
      r.setAttribute("y", depth * ROW);
      r.setAttribute("width", Math.max(0.5, w).toFixed(2));
      r.setAttribute("height", ROW - 1);
      r.setAttribute("fill", colour(v));
      g.appendChild(r);
      var chars = Math.floor((w - 6) / 6.6);
      if (chars >= 3) {
        var name = nodeName(v), t = document.createElementNS(NS, "text");
        t.setAttribute("x", (x + 3).toFixed(2));
        t.setAttribute("y", depth * ROW + ROW - 5);
        t.textContent = name.length > chars ? name.slice(0, chars - 2) + ".." : name;
        g.appendChild(t);
      }
      svg.appendChild(g);
      if (depth > maxDepth) maxDepth = depth;
    }
    if (zt) {
      path.forEach(function (v, d) { add(v, 0, W, d); });
      var st = [[zoom, 0, path.length - 1]];
      while (st.length) {
        var e = st.pop(), v = e[0], x = e[1], d = e[2];
        var ks = model.kids[v].filter(function (k) { return weight[k] > 0; });
        ks.sort(function (p, q) { return weight[q] - weight[p]; });
        ks.forEach(function (k) {
          var w = weight[k] / zt * W;
          if (w >= 0.4) {
            add(k, x, w, d + 1);
            st.push([k, x, d + 1]);
          }
          x += w;
        });
      }
    } else {
      var t = document.createElementNS(NS, "text");
      t.setAttribute("x", 6);
      t.setAttribute("y", 14);
      t.textContent = "no " + unit + " with a stack in this selection";
      svg.appendChild(t);
    }
    svg.setAttribute("height", (maxDepth + 1) * ROW);
  }

  function showTip(ev, lines) {
    var tip = $("tip");
    tip.textContent = "";
    lines.forEach(function (l) { tip.appendChild(el("div", null, l)); });
    tip.style.display = "block";
    var x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + tip.offsetWidth > window.innerWidth) x = Math.max(0, ev.clientX - tip.offsetWidth - 8);
    if (y + tip.offsetHeight > window.innerHeight) y = Math.max(0, ev.clientY - tip.offsetHeight - 8);
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }
  function hideTip() { $("tip").style.display = "none"; }
  function frameOf(ev) {
    var g = ev.target.closest ? ev.target.closest("g") : null;
    return g && g.hasAttribute("data-v") ? +g.getAttribute("data-v") : -1;
  }

  /* The flame graph's tooltip and clicks, its buttons, the search box and Escape. */
  function wireFlame() {
    var svg = $("flame");
    svg.addEventListener("mousemove", function (ev) {
      var v = frameOf(ev);
      if (v >= 0) showTip(ev, tipFor(v)); else hideTip();
    });
    svg.addEventListener("mouseleave", hideTip);
    svg.addEventListener("click", function (ev) {
      var v = frameOf(ev);
      if (v >= 0) { zoom = v; renderFlame(); }
    });
    $("reset").onclick = function () { zoom = 0; renderFlame(); };
    $("zoomout").onclick = function () { if (zoom) zoom = model.parent[zoom]; renderFlame(); };
    $("search").addEventListener("input", function () {
      query = this.value.trim();
      computeMatch();
      renderFlame();
    });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") { zoom = 0; renderFlame(); }
    });
  }
