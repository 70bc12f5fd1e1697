/* shisaku-search page script. No framework, no build step, no inline script.
 *
 * Safety rule: text from the corpus, the query or the server is only ever put into the
 * page with textContent / setAttribute on elements built here; never innerHTML.
 */
(function () {
  "use strict";

  var STATUSES = ["実施中", "実施済み", "検討中"];
  var LANG_KEY = "shisaku.lang";
  var SEARCH_K = 10;
  var ASK_K = 5;
  var SIMILAR_K = 5;
  var MAX_RETRIES = 40;
  var RELEVANT_SHARE = 0.5;
  var ANSWER_CLAMP_CHARS = 160;
  var CITATION_CHARS = 60;

  var I18N = {
    ja: {
      title: "施策サーチ — shisaku-search",
      brand: "施策サーチ",
      lede: "第７次出入国管理政策懇談会報告書で提言された33の施策について、その実施状況を日本語または英語で検索できます。",
      queryLabel: "質問またはキーワード",
      placeholder: "例: 特定技能2号の分野は?",
      searchButton: "検索",
      statusLegend: "実施状況で絞り込む",
      "status.実施中": "実施中",
      "status.実施済み": "実施済み",
      "status.検討中": "検討中",
      examplesTitle: "質問の例",
      answerTitle: "回答",
      answerLoading: "回答を準備しています…",
      citationsTitle: "根拠",
      answerMore: "続きを読む",
      answerLess: "閉じる",
      notAnswerable: "報告書にはこの質問への直接の答えが見当たりません。下の検索結果を参考にしてください。",
      source: "出典: 出入国在留管理庁「出入国在留管理基本計画策定後に第７次出入国管理政策懇談会報告書において提言された施策の実施状況」",
      apiLink: "API ドキュメント",
      searching: "検索しています…",
      summary: "「{q}」の検索結果: {n}件（{ms} ミリ秒）",
      summaryFiltered: "「{q}」の検索結果: {n}件（{ms} ミリ秒・{statuses}のみ）",
      noResults: "該当する施策がありません。言い換えるか、絞り込みを外してください。",
      emptyQuery: "質問またはキーワードを入力してください。",
      measure: "施策 {n}",
      score: "スコア {s}",
      "field.target": "対象施策",
      "field.explanation": "実施状況の説明",
      "field.note": "注",
      "field.notes": "注",
      matches: "一致した箇所",
      fullText: "全文を見る",
      similar: "類似の施策",
      similarHide: "類似の施策を閉じる",
      similarLoading: "類似の施策を探しています…",
      similarTitle: "施策 {n} に似た施策",
      notReady: "サービスを準備中です（モデルと索引を読み込んでいます）。自動で再試行します…",
      notReadyGiveUp: "サービスの準備がまだ終わっていません。しばらくしてから再試行してください。",
      overloaded: "サーバーが混み合っています。自動で再試行します…",
      networkError: "サーバーに接続できません。サービスが起動しているか確認してください。",
      errorPrefix: "エラー: {message}",
      retry: "再試行",
      backToSearch: "← 検索に戻る",
      statusLabel: "実施状況",
      similarMeasures: "似ている施策",
      notFoundTitle: "施策が見つかりません",
      notFoundText: "施策「{n}」はありません。施策番号は {range} です。",
      measureTitle: "施策 {n} — 施策サーチ",
      loadingTitle: "準備中",
      langToggle: "English",
      langToggleLabel: "Switch to English"
    },
    en: {
      title: "Measure search — shisaku-search",
      brand: "Measure search",
      lede: "Search, in Japanese or English, how far the 33 measures recommended by the 7th Immigration Control Policy Roundtable have been carried out.",
      queryLabel: "Question or keywords",
      placeholder: "e.g. Which fields were added to Specified Skilled Worker (ii)?",
      searchButton: "Search",
      statusLegend: "Filter by status",
      "status.実施中": "In progress",
      "status.実施済み": "Implemented",
      "status.検討中": "Under consideration",
      examplesTitle: "Example questions",
      answerTitle: "Answer",
      answerLoading: "Preparing an answer…",
      citationsTitle: "Sources",
      answerMore: "Show more",
      answerLess: "Show less",
      notAnswerable: "The report does not seem to answer this question directly; see the results below.",
      source: "Source: Immigration Services Agency of Japan, status of the measures recommended in the report of the 7th Immigration Control Policy Roundtable (in Japanese).",
      apiLink: "API documentation",
      searching: "Searching…",
      summary: "{n} results for “{q}” ({ms} ms)",
      summaryFiltered: "{n} results for “{q}” ({ms} ms, {statuses} only)",
      noResults: "No measure matches. Try other words or remove the status filter.",
      emptyQuery: "Type a question or keywords.",
      measure: "Measure {n}",
      score: "score {s}",
      "field.target": "Recommended measure",
      "field.explanation": "Status explanation",
      "field.note": "Notes",
      "field.notes": "Notes",
      matches: "Matching passages",
      fullText: "Full measure",
      similar: "Similar measures",
      similarHide: "Hide similar measures",
      similarLoading: "Finding similar measures…",
      similarTitle: "Measures similar to measure {n}",
      notReady: "The service is still starting (loading the model and index). Retrying automatically…",
      notReadyGiveUp: "The service is still not ready. Please try again in a little while.",
      overloaded: "The server is busy. Retrying automatically…",
      networkError: "Cannot reach the server. Check that the service is running.",
      errorPrefix: "Error: {message}",
      retry: "Retry",
      backToSearch: "← Back to search",
      statusLabel: "Status",
      similarMeasures: "Similar measures",
      notFoundTitle: "Measure not found",
      notFoundText: "There is no measure “{n}”. Measures are numbered {range}.",
      measureTitle: "Measure {n} — shisaku-search",
      loadingTitle: "Starting up",
      langToggle: "日本語",
      langToggleLabel: "日本語に切り替える"
    }
  };

  // ---- language ------------------------------------------------------------------------

  function storedLang() {
    try {
      var value = window.localStorage.getItem(LANG_KEY);
      if (value === "ja" || value === "en") { return value; }
    } catch (e) { /* storage disabled */ }
    return null;
  }

  function defaultLang() {
    var nav = (navigator.language || "ja").toLowerCase();
    return nav.indexOf("ja") === 0 ? "ja" : (nav ? "en" : "ja");
  }

  var lang = storedLang() || "ja";

  function t(key, vars) {
    var table = I18N[lang] || I18N.ja;
    var text = Object.prototype.hasOwnProperty.call(table, key) ? table[key] : (I18N.ja[key] || key);
    if (vars) {
      text = text.replace(/\{(\w+)\}/g, function (whole, name) {
        return Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole;
      });
    }
    return text;
  }

  function translate(node, key, vars) {
    node.dataset.i18n = key;
    if (vars) { node.dataset.i18nVars = JSON.stringify(vars); } else { delete node.dataset.i18nVars; }
    node.textContent = t(key, vars);
    return node;
  }

  function applyLang() {
    document.documentElement.lang = lang;
    var nodes = document.querySelectorAll("[data-i18n]");
    for (var i = 0; i < nodes.length; i++) {
      var vars = null;
      if (nodes[i].dataset.i18nVars) {
        try { vars = JSON.parse(nodes[i].dataset.i18nVars); } catch (e) { vars = null; }
      }
      nodes[i].textContent = t(nodes[i].dataset.i18n, vars);
    }
    var placeholders = document.querySelectorAll("[data-i18n-placeholder]");
    for (var j = 0; j < placeholders.length; j++) {
      placeholders[j].setAttribute("placeholder", t(placeholders[j].dataset.i18nPlaceholder));
    }
    var toggle = document.getElementById("lang-toggle");
    if (toggle) {
      toggle.textContent = t("langToggle");
      toggle.setAttribute("lang", lang === "ja" ? "en" : "ja");
      toggle.setAttribute("aria-label", t("langToggleLabel"));
    }
    var titleKey = document.body.dataset.titleKey;
    if (titleKey) {
      document.title = t(titleKey, JSON.parse(document.body.dataset.titleVars || "null"));
    }
  }

  function setLang(value) {
    lang = value;
    try { window.localStorage.setItem(LANG_KEY, value); } catch (e) { /* storage disabled */ }
    applyLang();
  }

  // ---- DOM helpers (textContent only) ---------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function clear(node) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
  }

  function statusBadge(status) {
    var badge = el("span", "badge");
    badge.dataset.status = status;
    translate(badge, "status." + status);
    return badge;
  }

  function measureHref(number, highlight) {
    var href = "/m/" + encodeURIComponent(String(number));
    if (highlight) {
      var params = new URLSearchParams();
      params.set("field", highlight.field);
      params.set("start", String(highlight.start));
      params.set("end", String(highlight.end));
      href += "?" + params.toString() + "#hl";
    }
    return href;
  }

  function shorten(text, width) {
    var flat = String(text).replace(/\s+/g, " ").trim();
    return flat.length <= width ? flat : flat.slice(0, width - 1) + "…";
  }

  /* Start of the excerpt before `start`: a sentence or line start within `context` chars. */
  function snapBack(text, start, context) {
    var from = Math.max(0, start - context);
    var before = text.slice(from, start);
    var cut = Math.max(before.lastIndexOf("。"), before.lastIndexOf("\n"));
    return cut >= 0 ? from + cut + 1 : from;
  }

  /* End of the excerpt after `end`: the end of that sentence or line within `context` chars. */
  function snapForward(text, end, context) {
    var after = text.slice(end, end + context);
    var stops = [after.indexOf("。"), after.indexOf("\n")].filter(function (i) { return i >= 0; });
    return stops.length ? end + Math.min.apply(null, stops) + (after.charAt(Math.min.apply(null, stops)) === "。" ? 1 : 0)
      : Math.min(text.length, end + context);
  }

  /* Field text with the given ranges marked. Long texts are cut to a window around the
   * marks (with "…"). ranges: [{start, end, strong}] as offsets into text. */
  function markedText(text, ranges, maxChars, context) {
    var node = el("span", "field-text");
    var spans = ranges
      .filter(function (r) { return r.end > r.start && r.start >= 0 && r.end <= text.length; })
      .sort(function (a, b) { return a.start - b.start; });
    var from = 0;
    var to = text.length;
    if (text.length > maxChars && spans.length) {
      var focus = spans.filter(function (r) { return r.strong; });
      var first = (focus.length ? focus : spans)[0];
      var window = spans.filter(function (r) {
        return r.start >= first.start - maxChars / 2 && r.end <= first.start + maxChars;
      });
      if (!window.length) { window = [first]; }
      from = snapBack(text, window[0].start, context);
      to = snapForward(text, Math.max(window[window.length - 1].end, first.end), context);
      spans = window;
    } else if (text.length > maxChars) {
      to = maxChars;
    }
    if (from > 0 && text.charAt(from - 1) !== "\n" && text.charAt(from - 1) !== "。") {
      node.appendChild(document.createTextNode("…"));
    }
    var cursor = from;
    spans.forEach(function (r) {
      var start = Math.max(r.start, cursor);
      var end = Math.min(r.end, to);
      if (end <= start) { return; }
      node.appendChild(document.createTextNode(text.slice(cursor, start)));
      node.appendChild(el("mark", r.strong ? "hit" : "hit weak", text.slice(start, end)));
      cursor = end;
    });
    node.appendChild(document.createTextNode(text.slice(cursor, to)));
    if (to < text.length && text.charAt(to - 1) !== "。" && text.charAt(to) !== "\n") {
      node.appendChild(document.createTextNode("…"));
    }
    return node;
  }

  // ---- API -----------------------------------------------------------------------------

  function ApiError(status, code, message, retryAfter) {
    this.status = status;
    this.code = code;
    this.message = message;
    this.retryAfter = retryAfter;
  }

  function api(path, options) {
    var init = options || {};
    init.headers = Object.assign({ "Accept": "application/json" }, init.headers || {});
    return fetch(path, init).then(function (response) {
      return response.text().then(function (body) {
        var data = null;
        try { data = body ? JSON.parse(body) : null; } catch (e) { data = null; }
        if (!response.ok) {
          var error = data && data.error ? data.error : {};
          var retry = parseFloat(response.headers.get("Retry-After") || "");
          throw new ApiError(response.status, error.code || "http_" + response.status,
            error.message || response.statusText || "request failed",
            isNaN(retry) ? null : retry);
        }
        return data;
      });
    }, function () {
      throw new ApiError(0, "network", "network error", null);
    });
  }

  function postJson(path, payload) {
    return api(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload)
    });
  }

  // ---- notices -------------------------------------------------------------------------

  function showNotice(kind, key, vars, onRetry) {
    var notice = document.getElementById("notice");
    if (!notice) { return; }
    clear(notice);
    notice.dataset.kind = kind;
    notice.appendChild(translate(el("span", "notice-text"), key, vars));
    if (onRetry) {
      var button = translate(el("button", "retry"), "retry");
      button.type = "button";
      button.addEventListener("click", onRetry);
      notice.appendChild(button);
    }
    notice.hidden = false;
  }

  function hideNotice() {
    var notice = document.getElementById("notice");
    if (notice) { notice.hidden = true; clear(notice); delete notice.dataset.kind; }
  }

  // ---- search page ---------------------------------------------------------------------

  var askAvailable = true;
  var runToken = 0;
  var retryTimer = null;

  function readUrl() {
    var params = new URLSearchParams(window.location.search);
    var q = (params.get("q") || "").trim();
    var statuses = params.getAll("status").filter(function (s) { return STATUSES.indexOf(s) >= 0; });
    return { q: q, statuses: statuses };
  }

  function formState() {
    var q = document.getElementById("q").value.trim();
    var boxes = document.querySelectorAll(".status-filter input[name=status]");
    var statuses = [];
    for (var i = 0; i < boxes.length; i++) { if (boxes[i].checked) { statuses.push(boxes[i].value); } }
    return { q: q, statuses: statuses };
  }

  function fillForm(state) {
    document.getElementById("q").value = state.q;
    var boxes = document.querySelectorAll(".status-filter input[name=status]");
    for (var i = 0; i < boxes.length; i++) { boxes[i].checked = state.statuses.indexOf(boxes[i].value) >= 0; }
  }

  function urlFor(state) {
    var params = new URLSearchParams();
    if (state.q) { params.set("q", state.q); }
    state.statuses.forEach(function (s) { params.append("status", s); });
    var query = params.toString();
    return "/" + (query ? "?" + query : "");
  }

  function submitState(state, replace) {
    var url = urlFor(state);
    if (url !== window.location.pathname + window.location.search) {
      if (replace) { window.history.replaceState(null, "", url); } else { window.history.pushState(null, "", url); }
    }
    run(state, 0);
  }

  function resetResults() {
    clear(document.getElementById("results"));
    document.getElementById("summary").textContent = "";
    delete document.getElementById("summary").dataset.i18n;
    hideAnswer();
  }

  function run(state, attempt) {
    var token = ++runToken;
    if (retryTimer) { window.clearTimeout(retryTimer); retryTimer = null; }
    if (!state.q) { resetResults(); hideNotice(); document.body.dataset.state = "idle"; return; }
    document.body.dataset.state = "loading";
    if (!attempt) { hideNotice(); }
    var summary = document.getElementById("summary");
    translate(summary, "searching");
    var params = new URLSearchParams();
    params.set("q", state.q);
    params.set("k", String(SEARCH_K));
    state.statuses.forEach(function (s) { params.append("status", s); });
    var search = api("/search?" + params.toString());
    var ask = askAvailable ? startAsk(state, token) : null;
    search.then(function (data) {
      if (token !== runToken) { return; }
      hideNotice();
      renderResults(data, state);
      document.body.dataset.state = "done";
    }, function (error) {
      if (token !== runToken) { return; }
      document.body.dataset.state = "error";
      summary.textContent = "";
      delete summary.dataset.i18n;
      clear(document.getElementById("results"));
      hideAnswer();
      handleError(error, function () { run(state, attempt + 1); }, attempt);
    });
    return ask;
  }

  function handleError(error, again, attempt) {
    var waitMs = Math.min(Math.max((error.retryAfter || 1) * 1000, 500), 5000);
    if (error.status === 503 && attempt < MAX_RETRIES) {
      showNotice("wait", error.code === "overloaded" ? "overloaded" : "notReady", null, again);
      retryTimer = window.setTimeout(again, waitMs);
    } else if (error.status === 503) {
      showNotice("error", "notReadyGiveUp", null, again);
    } else if (error.status === 0) {
      showNotice("error", "networkError", null, again);
    } else {
      showNotice("error", "errorPrefix", { message: error.message + " (" + error.status + ")" }, null);
    }
  }

  function renderResults(data, state) {
    var list = document.getElementById("results");
    clear(list);
    var summary = document.getElementById("summary");
    var results = (data && data.results) || [];
    if (!results.length) {
      translate(summary, "noResults");
      return;
    }
    var vars = { q: data.query, n: results.length, ms: Math.round(data.took_ms) };
    if (state.statuses.length) {
      vars.statuses = state.statuses.map(function (s) { return t("status." + s); }).join(" / ");
      translate(summary, "summaryFiltered", vars);
    } else {
      translate(summary, "summary", vars);
    }
    results.forEach(function (result, rank) { list.appendChild(resultCard(result, rank)); });
  }

  function resultCard(result, rank) {
    var card = el("li", "card");
    card.dataset.measure = String(result.number);
    card.dataset.status = result.status;
    var passages = (result.passages || []).slice().sort(function (a, b) { return b.score - a.score; });
    var best = passages.length ? passages[0] : null;
    // Only passages scoring at least half as well as the best one count as matches.
    passages = passages.filter(function (p) { return best && p.score >= RELEVANT_SHARE * best.score; });

    var head = el("div", "card-head");
    var title = el("h3", "card-title");
    var link = el("a", "measure-link");
    link.href = measureHref(result.number, best);
    translate(link, "measure", { n: result.number });
    title.appendChild(link);
    head.appendChild(title);
    head.appendChild(statusBadge(result.status));
    var score = translate(el("span", "score"), "score", { s: Number(result.score).toFixed(2) });
    head.appendChild(score);
    card.appendChild(head);

    var byField = {};
    passages.forEach(function (p, i) {
      (byField[p.field] = byField[p.field] || []).push({ start: p.start, end: p.end, strong: i === 0 });
    });

    var targetBlock = el("div", "field field-target");
    targetBlock.appendChild(translate(el("h4", "field-label"), "field.target"));
    targetBlock.appendChild(markedText(result.target, byField.target || [], 400, 80));
    card.appendChild(targetBlock);

    var other = ["explanation", "note"].filter(function (f) { return byField[f]; });
    if (other.length) {
      var matches = el("div", "field field-matches");
      matches.appendChild(translate(el("h4", "field-label"), "matches"));
      other.forEach(function (field) {
        var quote = el("blockquote", "passage");
        quote.dataset.field = field;
        quote.appendChild(translate(el("span", "passage-field"), "field." + field));
        var text = field === "note" ? result.notes : result.explanation;
        quote.appendChild(markedText(text, byField[field], 260, 50));
        matches.appendChild(quote);
      });
      card.appendChild(matches);
    }

    var actions = el("div", "card-actions");
    var full = translate(el("a", "full-link"), "fullText");
    full.href = measureHref(result.number, best);
    actions.appendChild(full);
    var similarButton = translate(el("button", "similar-button"), "similar");
    similarButton.type = "button";
    similarButton.setAttribute("aria-expanded", "false");
    actions.appendChild(similarButton);
    card.appendChild(actions);

    var similarBox = el("div", "similar-box");
    similarBox.hidden = true;
    card.appendChild(similarBox);
    similarButton.addEventListener("click", function () {
      toggleSimilar(result.number, similarButton, similarBox);
    });
    return card;
  }

  function toggleSimilar(number, button, box) {
    if (!box.hidden) {
      box.hidden = true;
      button.setAttribute("aria-expanded", "false");
      translate(button, "similar");
      return;
    }
    box.hidden = false;
    button.setAttribute("aria-expanded", "true");
    translate(button, "similarHide");
    if (box.dataset.loaded === "1") { return; }
    clear(box);
    box.appendChild(translate(el("p", "muted"), "similarLoading"));
    api("/measures/" + encodeURIComponent(String(number)) + "/similar?k=" + SIMILAR_K).then(function (data) {
      clear(box);
      box.dataset.loaded = "1";
      box.appendChild(translate(el("h4", "field-label"), "similarTitle", { n: number }));
      box.appendChild(similarList(data.results || []));
    }, function (error) {
      clear(box);
      var message = error.status === 503 ? translate(el("p", "error-text"), "notReady")
        : error.status === 0 ? translate(el("p", "error-text"), "networkError")
          : translate(el("p", "error-text"), "errorPrefix", { message: error.message + " (" + error.status + ")" });
      box.appendChild(message);
    });
  }

  function similarList(items) {
    var list = el("ul", "similar-list");
    items.forEach(function (item) {
      var li = el("li", "similar-item");
      li.dataset.similar = String(item.number);
      var link = el("a", "similar-link");
      link.href = measureHref(item.number, null);
      translate(link, "measure", { n: item.number });
      li.appendChild(link);
      li.appendChild(statusBadge(item.status));
      li.appendChild(el("span", "similar-target", shorten(item.target, 90)));
      li.appendChild(el("span", "score", Number(item.score).toFixed(2)));
      list.appendChild(li);
    });
    return list;
  }

  // ---- answer panel ---------------------------------------------------------------------

  function hideAnswer() {
    var panel = document.getElementById("answer");
    if (panel) { panel.hidden = true; panel.dataset.state = "hidden"; }
  }

  function startAsk(state, token) {
    var panel = document.getElementById("answer");
    var text = document.getElementById("answer-text");
    var citations = document.getElementById("citations");
    if (!panel) { return null; }
    hideAnswer();
    var payload = { question: state.q, k: ASK_K };
    if (state.statuses.length) { payload.status = state.statuses; }
    return postJson("/ask", payload).then(function (data) {
      if (token !== runToken) { return; }
      clear(citations);
      if (!data || (!data.answerable && !data.answer)) { hideAnswer(); return; }
      panel.dataset.state = data.answerable ? "answer" : "unanswerable";
      if (data.answerable && data.answer) {
        text.textContent = data.answer;
        delete text.dataset.i18n;
      } else {
        translate(text, "notAnswerable");
      }
      setClamp(panel, text, text.textContent.length > ANSWER_CLAMP_CHARS);
      var cites = data.answerable ? (data.citations || []) : [];
      cites.forEach(function (cite) { citations.appendChild(citationItem(cite)); });
      citations.hidden = !cites.length;
      panel.querySelector(".citations-title").hidden = !cites.length;
      panel.hidden = false;
    }, function (error) {
      if (error.status === 404 || error.status === 405) { askAvailable = false; }
      if (token === runToken) { hideAnswer(); }
    });
  }

  /* Long answers show their first lines and a "more" button. */
  function setClamp(panel, text, clamp) {
    var more = panel.querySelector(".answer-more");
    if (!more) {
      more = el("button", "answer-more");
      more.type = "button";
      more.addEventListener("click", function () {
        var open = text.classList.toggle("clamped") === false;
        more.setAttribute("aria-expanded", open ? "true" : "false");
        translate(more, open ? "answerLess" : "answerMore");
      });
      text.parentNode.insertBefore(more, text.nextSibling);
    }
    text.classList.toggle("clamped", clamp);
    more.hidden = !clamp;
    more.setAttribute("aria-expanded", "false");
    translate(more, "answerMore");
  }

  function citationItem(cite) {
    var li = el("li", "citation");
    li.dataset.cite = String(cite.number);
    var link = el("a", "citation-link");
    link.href = measureHref(cite.number, typeof cite.start === "number" ? cite : null);
    translate(link, "measure", { n: cite.number });
    li.appendChild(link);
    if (cite.field) { li.appendChild(translate(el("span", "citation-field"), "field." + cite.field)); }
    if (cite.quote) {
      var quote = el("q", "citation-quote", shorten(cite.quote, CITATION_CHARS));
      quote.title = cite.quote;
      li.appendChild(quote);
    }
    return li;
  }

  // ---- wiring --------------------------------------------------------------------------

  function initSearchPage() {
    var form = document.getElementById("search-form");
    var input = document.getElementById("q");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var state = formState();
      if (!state.q) {
        showNotice("error", "emptyQuery", null, null);
        input.focus();
        return;
      }
      submitState(state, false);
    });
    var boxes = document.querySelectorAll(".status-filter input[name=status]");
    for (var i = 0; i < boxes.length; i++) {
      boxes[i].addEventListener("change", function () {
        var state = formState();
        if (state.q) { submitState(state, false); }
      });
    }
    var examples = document.querySelectorAll("button.example");
    for (var j = 0; j < examples.length; j++) {
      examples[j].addEventListener("click", function (event) {
        input.value = event.currentTarget.textContent;
        submitState(formState(), false);
      });
    }
    window.addEventListener("popstate", function () {
      var state = readUrl();
      fillForm(state);
      run(state, 0);
    });
    var initial = readUrl();
    fillForm(initial);
    if (initial.q) { run(initial, 0); } else { document.body.dataset.state = "idle"; }
  }

  function initMeasurePage() {
    var mark = document.getElementById("hl");
    if (mark && mark.scrollIntoView) { mark.scrollIntoView({ block: "center" }); }
    if (document.body.dataset.page === "measure-loading") {
      window.setTimeout(function () { window.location.reload(); }, 2000);
    }
  }

  function init() {
    var stored = storedLang();
    lang = stored || defaultLang();
    var toggle = document.getElementById("lang-toggle");
    if (toggle) {
      toggle.addEventListener("click", function () { setLang(lang === "ja" ? "en" : "ja"); });
    }
    applyLang();
    var page = document.body.dataset.page;
    if (page === "search") { initSearchPage(); } else { initMeasurePage(); }
    document.body.dataset.ready = "1";
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
