/* valuescope explorer: fills the page from the JSON API with textContent only (data is never parsed as HTML). */
(function () {
  "use strict";
  var TOKEN = new URLSearchParams(location.search).get("token");
  var state = { side: "ai", level: "value", q: "", filters: {}, path: {} };
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function api(path, params) {
    var url = new URL("api/" + path, location.href);
    url.search = "";
    Object.keys(params || {}).forEach(function (k) { if (params[k]) url.searchParams.set(k, params[k]); });
    var headers = TOKEN ? { "X-Valuescope-Token": TOKEN } : {};
    return fetch(url, { headers: headers }).then(function (r) {
      if (!r.ok) return r.json().then(function (b) { throw new Error(b.detail || r.statusText); });
      return r.json();
    });
  }

  function listItems(ol, items, onPick, tag) {
    ol.replaceChildren();
    var max = items.reduce(function (m, it) { return Math.max(m, it.n); }, 1);
    items.forEach(function (it) {
      var li = el("li");
      var name = el("span", "name", it.name);
      if (tag) name.appendChild(el("span", "tag", tag(it)));
      li.appendChild(name);
      li.appendChild(el("span", "n", it.n));
      var bar = el("span", "bar");
      bar.style.width = (100 * it.n / max).toFixed(1) + "%";
      li.appendChild(bar);
      li.dataset.name = it.name;
      li.addEventListener("click", function () {
        ol.querySelectorAll("li.selected").forEach(function (x) { x.classList.remove("selected"); });
        li.classList.add("selected");
        onPick(it);
      });
      ol.appendChild(li);
    });
    if (!items.length) ol.appendChild(el("li", "muted", "Nothing above the privacy floor."));
  }

  function refreshValues() {
    var note = $("values-note");
    var done = function (items, text) { note.textContent = text; listItems($("results"), items, openValue, function (it) { return it.level ? it.side + " · " + it.level : ""; }); };
    if (state.q && !Object.keys(state.filters).some(function (k) { return state.filters[k]; })) {
      api("search", { q: state.q }).then(function (res) {
        done(res.items, res.items.length + " match(es) for “" + res.q + "” (all sides and levels)");
      }).catch(showError);
      return;
    }
    var params = Object.assign({ side: state.side, level: state.level, q: state.q, limit: 200 }, state.filters);
    api("values", params).then(function (res) {
      var items = res.items.map(function (it) { return Object.assign({ side: res.side, level: res.level }, it); });
      var text = items.length + " shown" + (res.suppressed ? ", " + res.suppressed + " below the privacy floor" : "") +
        (res.conversations ? " · " + res.conversations + " conversations" : "");
      done(items, text);
    }).catch(showError);
  }

  function refreshTree() {
    api("tree", Object.assign({ side: state.side }, state.path)).then(function (res) {
      var crumbs = $("crumbs");
      crumbs.replaceChildren();
      var top = el("a", null, "top categories");
      top.addEventListener("click", function () { state.path = {}; refreshTree(); });
      crumbs.appendChild(top);
      ["l3", "l2", "l1"].forEach(function (lvl) {
        if (!state.path[lvl]) return;
        crumbs.appendChild(document.createTextNode(" › "));
        var a = el("a", null, state.path[lvl]);
        a.addEventListener("click", function () {
          var keep = {}, stop = false;
          ["l3", "l2", "l1"].forEach(function (k) { if (!stop && state.path[k]) keep[k] = state.path[k]; if (k === lvl) stop = true; });
          state.path = keep; refreshTree();
        });
        crumbs.appendChild(a);
      });
      listItems($("tree"), res.items, function (it) {
        if (res.level === "value") { openValue({ name: it.name, side: state.side, level: "value" }); return; }
        state.path[res.level] = it.name;
        openValue({ name: it.name, side: state.side, level: res.level });
        refreshTree();
      });
    }).catch(showError);
  }

  function bars(parent, rows) {
    var grid = el("div", "bars");
    var max = rows.reduce(function (m, r) { return Math.max(m, r.n); }, 1);
    rows.forEach(function (r) {
      grid.appendChild(el("span", "label", r.name));
      var track = el("span", "track"), fill = el("span", "fill");
      fill.style.width = (100 * r.n / max).toFixed(1) + "%";
      fill.style.display = "block";
      track.appendChild(fill);
      grid.appendChild(track);
      grid.appendChild(el("span", "num", r.n));
    });
    parent.appendChild(grid);
  }

  function openValue(it) {
    var side = it.side || state.side, level = it.level || "value";
    api("value", { name: it.name, side: side, level: level }).then(function (v) {
      var d = $("detail");
      d.replaceChildren();
      d.appendChild(el("h2", null, v.name));
      d.appendChild(el("p", "muted", side + " · " + level + " · " + v.n + " conversations · " + v.occurrences + " occurrences"));
      if (v.path && v.path.length) {
        var p = v.path[0];
        d.appendChild(el("p", "path", [p.l3, p.l2, p.l1].filter(Boolean).join(" › ")));
      }
      [["task_category", "By task category"], ["context", "By source context"], ["model", "By model"], ["response", "By response type"]].forEach(function (pair) {
        var rows = v.by[pair[0]] || [];
        if (!rows.length && !v.suppressed[pair[0]]) return;
        d.appendChild(el("h3", null, pair[1]));
        bars(d, rows);
        if (v.suppressed[pair[0]]) d.appendChild(el("p", "muted", v.suppressed[pair[0]] + " more below the privacy floor"));
      });
      if (window.__examples) {
        var btn = el("button", "examples", "Show scrubbed examples");
        btn.type = "button";
        btn.addEventListener("click", function () {
          api("examples", { name: v.name, side: side }).then(function (res) {
            res.snippets.forEach(function (s) {
              var q = el("blockquote");
              var u = el("p"); u.appendChild(el("b", null, "user: ")); u.appendChild(document.createTextNode(s.user)); q.appendChild(u);
              var a = el("p"); a.appendChild(el("b", null, "assistant: ")); a.appendChild(document.createTextNode(s.assistant)); q.appendChild(a);
              q.appendChild(el("cite", "muted", s.id));
              d.appendChild(q);
            });
            btn.remove();
          }).catch(showError);
        });
        d.appendChild(btn);
      }
    }).catch(showError);
  }

  function showError(err) {
    var d = $("detail");
    d.replaceChildren(el("p", "muted", "Error: " + err.message));
  }

  function init() {
    api("summary").then(function (s) {
      $("run").textContent = s.run;
      $("counts").textContent = (s.conversations_judged || 0) + " conversations judged · " + (s.subjective || 0) + " subjective · " + s.distinct_values + " distinct values";
      $("floor").textContent = "Counts below " + s.floor.min_conversations + " conversations / " + s.floor.min_users + " users are hidden.";
      window.__examples = !!s.examples;
    }).catch(showError);
    api("facets").then(function (f) {
      Object.keys(f).forEach(function (k) {
        var sel = $("f-" + k);
        f[k].forEach(function (o) { var opt = el("option", null, o.name + " (" + o.n + ")"); opt.value = o.name; sel.appendChild(opt); });
      });
    }).catch(showError);
    var timer = null;
    $("search").addEventListener("input", function (e) {
      clearTimeout(timer);
      timer = setTimeout(function () { state.q = e.target.value.trim(); refreshValues(); }, 200);
    });
    $("side").addEventListener("change", function (e) { state.side = e.target.value; state.path = {}; refreshValues(); refreshTree(); });
    $("level").addEventListener("change", function (e) { state.level = e.target.value; refreshValues(); });
    document.querySelectorAll("select[data-filter]").forEach(function (sel) {
      sel.addEventListener("change", function () { state.filters[sel.dataset.filter] = sel.value; refreshValues(); });
    });
    $("tab-values").addEventListener("click", function () { $("values-view").hidden = false; $("tree-view").hidden = true; this.classList.add("active"); $("tab-tree").classList.remove("active"); });
    $("tab-tree").addEventListener("click", function () { $("values-view").hidden = true; $("tree-view").hidden = false; this.classList.add("active"); $("tab-values").classList.remove("active"); });
    refreshValues();
    refreshTree();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
