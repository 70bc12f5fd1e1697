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
  var DEFAULT_MAX_QUERY_CHARS = 1000;  // until /info says otherwise
  var PASSAGE_CHARS = 220;  // a longer passage is shown as a window around its best match
  var TARGET_CHARS = 400;

  var I18N = {
    ja: {
      title: "施策サーチ — shisaku-search",
      brand: "施策サーチ",
      lede: "第７次出入国管理政策懇談会報告書で提言された33の施策について、その実施状況を日本語または英語で検索できます。",
      queryLabel: "質問またはキーワード",
      placeholder: "例: 特定技能2号の分野は?",
      shortcutHint: "「/」キーでいつでも検索欄へ移動できます",
      searchButton: "検索",
      statusLegend: "実施状況で絞り込む",
      "status.実施中": "実施中",
      "status.実施済み": "実施済み",
      "status.検討中": "検討中",
      reportLabel: "報告書",
      reportLatest: "各報告書の最新版",
      reportAll: "すべての版",
      reportOption: "{title}（{date}）",
      reportOptionLatest: "{title}（{date}・最新版）",
      reportFrom: "出典: {title}（{date}）",
      examplesTitle: "質問の例",
      answerTitle: "回答",
      answerLoading: "回答を準備しています…",
      citationsTitle: "根拠",
      answerMore: "続きを読む",
      answerLess: "閉じる",
      notAnswerable: "報告書にはこの質問への直接の答えが見当たりません。下の検索結果を参考にしてください。",
      refusalReason: "判定の理由（英語）：{reason}",
      source: "出典: 出入国在留管理庁「出入国在留管理基本計画策定後に第７次出入国管理政策懇談会報告書において提言された施策の実施状況」",
      provenance: "本文は報告書（PDF）をテキスト化したものです（索引した報告書のチェックサム SHA-256 {sha}…）。",
      apiLink: "API ドキュメント",
      jmdictCredit: "英語の質問の語彙照合に JMdict（© EDRDG、CC BY-SA 4.0）を使用しています。",
      searching: "検索しています…",
      summary: "「{q}」の検索結果: {n}件（{time}）",
      summaryFiltered: "「{q}」の検索結果: {n}件（{time}・{statuses}のみ）",
      summaryWeak: "「{q}」によく一致する施策はありません。近い施策: {n}件（{time}）",
      took: "{ms} ミリ秒",
      cached: "キャッシュ",
      noResults: "該当する施策がありません。言い換えるか、絞り込みを外してください。",
      emptyQuery: "質問またはキーワードを入力してください。",
      tooLong: "質問が長すぎます（{n}文字）。{max}文字以内に短くしてください。",
      invalidInput: "この入力では検索できませんでした。質問またはキーワードを見直してください。",
      showMore: "関連度の低い結果をあと{n}件表示",
      measure: "施策 {n}",
      "relevance.high": "関連度 高",
      "relevance.medium": "関連度 中",
      "relevance.low": "関連度 低",
      "field.target": "対象施策",
      "field.explanation": "実施状況の説明",
      "field.note": "注",
      "field.notes": "注",
      matches: "一致した箇所",
      related: "内容が近い箇所",
      fullText: "全文を見る",
      similar: "類似の施策",
      similarHide: "類似の施策を閉じる",
      similarLoading: "類似の施策を探しています…",
      similarTitle: "施策 {n} に似た施策",
      notReady: "サービスを準備中です（モデルと索引を読み込んでいます）。自動で再試行します…",
      notReadyGiveUp: "サービスの準備がまだ終わっていません。しばらくしてから再試行してください。",
      overloaded: "サーバーが混み合っています。自動で再試行します…",
      networkError: "サーバーに接続できません。サービスが起動しているか確認してください。",
      errorPrefix: "エラーが発生しました（{status}）。時間をおいて再試行してください。",
      retry: "再試行",
      backToSearch: "← 検索に戻る",
      backToResults: "← 検索結果に戻る",
      prevMeasure: "← 施策 {n}",
      nextMeasure: "施策 {n} →",
      queryMarked: "「{q}」に一致する語を強調しています",
      statusLabel: "実施状況",
      similarMeasures: "似ている施策",
      notFoundTitle: "施策が見つかりません",
      notFoundText: "施策「{n}」はありません。施策番号は {range} です。",
      measureTitle: "施策 {n} — 施策サーチ",
      historyTitle: "版ごとの実施状況",
      historyOne: "この施策は1つの版（{date}）にのみ掲載されています。",
      historyFirst: "初出",
      historyUnchanged: "前の版から変更なし",
      historyStatus: "実施状況: {change}",
      shownEdition: "表示中の版: {title}（{date}）",
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
      shortcutHint: "Press “/” to jump to the search box",
      searchButton: "Search",
      statusLegend: "Filter by status",
      "status.実施中": "In progress",
      "status.実施済み": "Implemented",
      "status.検討中": "Under consideration",
      reportLabel: "Report",
      reportLatest: "Latest edition of each report",
      reportAll: "All editions",
      reportOption: "{title} ({date})",
      reportOptionLatest: "{title} ({date}, latest)",
      reportFrom: "From: {title} ({date})",
      examplesTitle: "Example questions",
      answerTitle: "Answer",
      answerLoading: "Preparing an answer…",
      citationsTitle: "Sources",
      answerMore: "Show more",
      answerLess: "Show less",
      notAnswerable: "The report does not seem to answer this question directly; see the results below.",
      refusalReason: "Why: {reason}",
      source: "Source: Immigration Services Agency of Japan, status of the measures recommended in the report of the 7th Immigration Control Policy Roundtable (in Japanese).",
      provenance: "The text was extracted from the reports' PDFs (checksum of the indexed reports: SHA-256 {sha}…).",
      apiLink: "API documentation",
      jmdictCredit: "English questions are matched with the help of JMdict (© EDRDG, CC BY-SA 4.0).",
      searching: "Searching…",
      summary: "{n} results for “{q}” ({time})",
      "summary.one": "1 result for “{q}” ({time})",
      summaryFiltered: "{n} results for “{q}” ({time}, {statuses} only)",
      "summaryFiltered.one": "1 result for “{q}” ({time}, {statuses} only)",
      summaryWeak: "No measure matches “{q}” well; the {n} closest ({time})",
      "summaryWeak.one": "No measure matches “{q}” well; the closest ({time})",
      took: "{ms} ms",
      cached: "cached",
      noResults: "No measure matches. Try other words or remove the status filter.",
      emptyQuery: "Type a question or keywords.",
      tooLong: "The question is too long ({n} characters). Shorten it to {max} characters or fewer.",
      invalidInput: "This input could not be searched: {message}",
      showMore: "Show {n} less relevant results",
      "showMore.one": "Show 1 less relevant result",
      measure: "Measure {n}",
      "relevance.high": "Relevance: high",
      "relevance.medium": "Relevance: medium",
      "relevance.low": "Relevance: low",
      "field.target": "Recommended measure",
      "field.explanation": "Status explanation",
      "field.note": "Notes",
      "field.notes": "Notes",
      matches: "Matching passages",
      related: "Related passage",
      fullText: "Full measure",
      similar: "Similar measures",
      similarHide: "Hide similar measures",
      similarLoading: "Finding similar measures…",
      similarTitle: "Measures similar to measure {n}",
      notReady: "The service is still starting (loading the model and index). Retrying automatically…",
      notReadyGiveUp: "The service is still not ready. Please try again in a little while.",
      overloaded: "The server is busy. Retrying automatically…",
      networkError: "Cannot reach the server. Check that the service is running.",
      errorPrefix: "Something went wrong ({status}): {message}",
      retry: "Retry",
      backToSearch: "← Back to search",
      backToResults: "← Back to the results",
      prevMeasure: "← Measure {n}",
      nextMeasure: "Measure {n} →",
      queryMarked: "Words matching “{q}” are highlighted",
      statusLabel: "Status",
      similarMeasures: "Similar measures",
      notFoundTitle: "Measure not found",
      notFoundText: "There is no measure “{n}”. Measures are numbered {range}.",
      measureTitle: "Measure {n} — shisaku-search",
      historyTitle: "Status in each edition",
      historyOne: "This measure appears in one edition ({date}).",
      historyFirst: "First edition",
      historyUnchanged: "No change from the previous edition",
      historyStatus: "Status: {change}",
      shownEdition: "Edition shown: {title} ({date})",
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

  function has(table, key) { return Object.prototype.hasOwnProperty.call(table, key); }

  /* The text of `key` in the current language; `{name}` is replaced by vars[name]. When
   * vars.n is 1 and there is a `key.one` (English singular), that is used. */
  function t(key, vars) {
    var table = I18N[lang] || I18N.ja;
    vars = expandVars(vars);
    if (vars && vars.n === 1 && has(table, key + ".one")) { key = key + ".one"; }
    var text = has(table, key) ? table[key] : (I18N.ja[key] || key);
    if (vars) {
      text = text.replace(/\{(\w+)\}/g, function (whole, name) {
        return Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole;
      });
    }
    return text;
  }

  /* Variables that are themselves words of the interface, translated when shown (so a
   * language switch redraws them): statusList → {statuses}, cached/ms → {time}. */
  function expandVars(vars) {
    if (!vars || (vars.statusList === undefined && vars.cached === undefined)) { return vars; }
    var out = Object.assign({}, vars);
    if (vars.statusList) {
      out.statuses = vars.statusList.map(function (s) { return t("status." + s); }).join(" / ");
    }
    if (vars.cached !== undefined) {
      out.time = vars.cached ? t("cached") : t("took", { ms: vars.ms });
    }
    delete out.statusList;
    delete out.cached;
    return out;
  }

  function translate(node, key, vars) {
    node.dataset.i18n = key;
    if (vars) { node.dataset.i18nVars = JSON.stringify(vars); } else { delete node.dataset.i18nVars; }
    render(node, key, vars);
    return node;
  }

  /* Fill `node` with the text of `key`. With node.dataset.i18nQuery set, the query ({q})
   * goes into an element of its own, kept to one line by the style sheet. */
  function render(node, key, vars) {
    if (!node.dataset.i18nQuery || !vars) {
      node.textContent = t(key, vars);
      return;
    }
    var marker = "\u0000q\u0000";
    var parts = t(key, Object.assign({}, vars, { q: marker })).split(marker);
    clear(node);
    parts.forEach(function (part, i) {
      if (i > 0) {
        var query = el("bdi", "query-text", vars.q);
        query.title = vars.q;
        node.appendChild(query);
      }
      if (part) { node.appendChild(document.createTextNode(part)); }
    });
  }

  function applyLang() {
    document.documentElement.lang = lang;
    var nodes = document.querySelectorAll("[data-i18n]");
    for (var i = 0; i < nodes.length; i++) {
      var vars = null;
      if (nodes[i].dataset.i18nVars) {
        try { vars = JSON.parse(nodes[i].dataset.i18nVars); } catch (e) { vars = null; }
      }
      render(nodes[i], nodes[i].dataset.i18n, vars);
    }
    var titles = document.querySelectorAll("[data-i18n-title]");
    for (var k = 0; k < titles.length; k++) {
      titles[k].setAttribute("title", t(titles[k].dataset.i18nTitle));
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

  /* The search page's query and filters, as URL parameters (carried to measure pages so
   * that "back" returns to the same search). */
  var currentSearch = "";

  function measureHref(number, highlight, report) {
    var params = new URLSearchParams(currentSearch);
    if (report && manyReports()) { params.set("edition", report.id); }
    if (highlight) {
      params.set("field", highlight.field);
      params.set("start", String(highlight.start));
      params.set("end", String(highlight.end));
    }
    var query = params.toString();
    return "/m/" + encodeURIComponent(String(number)) + (query ? "?" + query : "") +
      (highlight ? "#hl" : "");
  }

  function shorten(text, width) {
    var flat = String(text).replace(/\s+/g, " ").trim();
    return flat.length <= width ? flat : flat.slice(0, width - 1) + "…";
  }

  function validSpan(span, length) {
    return span && typeof span.start === "number" && typeof span.end === "number" &&
      span.start >= 0 && span.end <= length && span.end > span.start;
  }

  /* Characters [from, to) of `text` to show: all of it when short, otherwise a window that
   * starts at the sentence holding the first of `focus` and ends at a sentence end. */
  function windowAround(text, focus, maxChars) {
    if (text.length <= maxChars) { return [0, text.length]; }
    if (!focus) { return [0, maxChars]; }
    var from = Math.max(0, focus.start - Math.floor(maxChars / 3));
    var before = text.slice(from, focus.start);
    var stop = Math.max(before.lastIndexOf("。"), before.lastIndexOf("\n"));
    if (stop >= 0) { from = from + stop + 1; }
    var to = Math.min(text.length, Math.max(from + maxChars, focus.end));
    var after = text.slice(focus.end, to);
    var end = Math.max(after.lastIndexOf("。"), after.lastIndexOf("\n"));
    if (end >= 0 && focus.end + end + 1 - from > maxChars / 2) { to = focus.end + end + 1; }
    return [from, to];
  }

  /* `text` with the query's words (`terms`, [{start, end}]) in <mark class="hit"> and the
   * best-matching sentence (`sentence`) lightly marked, cut to `maxChars` around the best
   * match ("…" where cut). Offsets are into `text`. */
  function markedText(text, terms, sentence, maxChars) {
    var node = el("span", "field-text");
    terms = (terms || []).filter(function (r) { return validSpan(r, text.length); });
    sentence = validSpan(sentence, text.length) ? sentence : null;
    var focus = terms.length ? terms[0] : sentence;
    var range = windowAround(text, focus, maxChars);
    var from = range[0];
    var to = range[1];
    var term = new Uint8Array(text.length);
    terms.forEach(function (r) { for (var i = r.start; i < r.end; i++) { term[i] = 1; } });
    function inSentence(i) { return sentence !== null && i >= sentence.start && i < sentence.end; }
    if (from > 0) { node.appendChild(document.createTextNode("…")); }
    var i = from;
    while (i < to) {
      var isTerm = term[i] === 1;
      var isSentence = inSentence(i);
      var j = i + 1;
      while (j < to && (term[j] === 1) === isTerm && inSentence(j) === isSentence) { j++; }
      var piece = text.slice(i, j);
      if (isTerm) {
        node.appendChild(el("mark", isSentence ? "hit in-sentence" : "hit", piece));
      } else if (isSentence) {
        node.appendChild(el("span", "sentence-hit", piece));
      } else {
        node.appendChild(document.createTextNode(piece));
      }
      i = j;
    }
    if (to < text.length) { node.appendChild(document.createTextNode("…")); }
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
  var maxQueryChars = DEFAULT_MAX_QUERY_CHARS;
  var limitsKnown = null;

  /* The request limits of this server (/info), asked once; the default until it answers. */
  function loadLimits() {
    if (!limitsKnown) {
      limitsKnown = api("/info").then(function (info) {
        var limit = info && info.limits && info.limits.max_query_chars;
        if (typeof limit === "number" && limit > 0) { maxQueryChars = limit; }
      }, function () { limitsKnown = null; });
    }
    return limitsKnown;
  }

  function readUrl() {
    var params = new URLSearchParams(window.location.search);
    var q = (params.get("q") || "").trim();
    var statuses = params.getAll("status").filter(function (s) { return STATUSES.indexOf(s) >= 0; });
    var report = (params.get("report") || "").trim();
    var editions = params.get("editions") === "all" ? "all" : "latest";
    return { q: q, statuses: statuses, report: report, editions: report ? "latest" : editions };
  }

  function formState() {
    var q = document.getElementById("q").value.trim();
    var boxes = document.querySelectorAll(".status-filter input[name=status]");
    var statuses = [];
    for (var i = 0; i < boxes.length; i++) { if (boxes[i].checked) { statuses.push(boxes[i].value); } }
    return { q: q, statuses: statuses, report: reportChoice.report, editions: reportChoice.editions };
  }

  function fillForm(state) {
    document.getElementById("q").value = state.q;
    var boxes = document.querySelectorAll(".status-filter input[name=status]");
    for (var i = 0; i < boxes.length; i++) { boxes[i].checked = state.statuses.indexOf(boxes[i].value) >= 0; }
    reportChoice = { report: state.report || "", editions: state.editions || "latest" };
    syncReportSelect();
  }

  function searchParams(state) {
    var params = new URLSearchParams();
    if (state.q) { params.set("q", state.q); }
    state.statuses.forEach(function (s) { params.append("status", s); });
    if (state.report) { params.set("report", state.report); }
    if (state.editions === "all" && !state.report) { params.set("editions", "all"); }
    return params.toString();
  }

  // ---- report filter --------------------------------------------------------------------

  var ALL_EDITIONS = ":all";  // the select's value for every edition (never a report id)
  var REPORT_TITLE_CHARS = 24;
  var reports = [];  // GET /reports, oldest first; empty until it answers (or when it fails)
  var reportsKnown = null;
  var reportChoice = { report: "", editions: "latest" };

  function manyReports() { return reports.length > 1; }

  function reportVars(report) {
    return { title: shorten(report.title || report.id, REPORT_TITLE_CHARS), date: report.date || "" };
  }

  /* The reports of the index, asked once; the filter is shown only when there are several. */
  function loadReports() {
    if (!reportsKnown) {
      reportsKnown = api("/reports").then(function (data) {
        reports = (data && data.reports) || [];
        fillReportSelect();
      }, function () { reportsKnown = null; });
    }
    return reportsKnown;
  }

  function fillReportSelect() {
    var box = document.getElementById("report-filter");
    var select = document.getElementById("report");
    if (!box || !select) { return; }
    while (select.options.length > 2) { select.remove(2); }
    reports.forEach(function (report) {
      var option = el("option");
      option.value = report.id;
      option.dataset.date = report.date || "";
      option.dataset.latest = report.latest ? "1" : "0";
      translate(option, report.latest ? "reportOptionLatest" : "reportOption", reportVars(report));
      option.title = report.title;
      select.appendChild(option);
    });
    box.hidden = !manyReports();
    syncReportSelect();
  }

  function syncReportSelect() {
    var select = document.getElementById("report");
    if (!select) { return; }
    var value = reportChoice.report || (reportChoice.editions === "all" ? ALL_EDITIONS : "");
    var known = false;
    for (var i = 0; i < select.options.length; i++) { if (select.options[i].value === value) { known = true; } }
    if (!known && reportChoice.report && reports.length) {
      // A report the index does not hold (an old link): listed so that the search says so.
      var option = el("option", null, reportChoice.report);
      option.value = reportChoice.report;
      select.appendChild(option);
    }
    select.value = value;
  }

  function readReportSelect() {
    var value = document.getElementById("report").value;
    reportChoice = value === ALL_EDITIONS ? { report: "", editions: "all" }
      : { report: value, editions: "latest" };
  }

  /* A small "From: title (date)" line, shown when the index holds several reports. */
  function reportLine(report, tag, className) {
    var line = translate(el(tag, className), "reportFrom", reportVars(report));
    line.title = report.title + (report.date ? " (" + report.date + ")" : "");
    return line;
  }

  function setReportData(node, report) {
    if (!report) { return; }
    node.dataset.report = report.id;
    node.dataset.reportDate = report.date || "";
  }

  function urlFor(state) {
    var query = searchParams(state);
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
    var summary = document.getElementById("summary");
    summary.textContent = "";
    delete summary.dataset.i18n;
    delete summary.dataset.i18nQuery;
    hideAnswer();
  }

  /* A query the server would refuse for its length is refused here, in the page's language,
   * instead of being cut short or sent. */
  function tooLong(state) {
    if (state.q.length <= maxQueryChars) { return false; }
    resetResults();
    document.body.dataset.state = "error";
    document.getElementById("q").setAttribute("aria-invalid", "true");
    showNotice("error", "tooLong", {
      n: state.q.length.toLocaleString(), max: maxQueryChars.toLocaleString()
    }, null);
    return true;
  }

  function run(state, attempt) {
    var token = ++runToken;
    if (retryTimer) { window.clearTimeout(retryTimer); retryTimer = null; }
    currentSearch = searchParams(state);
    document.getElementById("q").removeAttribute("aria-invalid");
    if (!state.q) { resetResults(); hideNotice(); document.body.dataset.state = "idle"; return null; }
    document.body.dataset.state = "loading";
    return Promise.all([loadLimits(), loadReports()]).then(function () {
      if (token !== runToken) { return null; }
      if (tooLong(state)) { return null; }
      return search(state, attempt, token);
    });
  }

  function search(state, attempt, token) {
    if (!attempt) { hideNotice(); }
    var summary = document.getElementById("summary");
    delete summary.dataset.i18nQuery;
    translate(summary, "searching");
    var params = new URLSearchParams(searchParams(state));
    params.set("k", String(SEARCH_K));
    var ask = askAvailable ? startAsk(state, token) : null;
    api("/search?" + params.toString()).then(function (data) {
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
    } else if (error.status === 422 || error.status === 400) {
      // The server's reason is English; the Japanese page says it in its own words.
      showNotice("error", "invalidInput", { message: error.message }, null);
    } else {
      showNotice("error", "errorPrefix", { status: error.status, message: error.message }, null);
    }
  }

  function renderResults(data, state) {
    var list = document.getElementById("results");
    clear(list);
    var summary = document.getElementById("summary");
    var results = (data && data.results) || [];
    delete summary.dataset.i18nQuery;
    if (!results.length) {
      translate(summary, "noResults");
      return;
    }
    var shown = Math.max(1, Math.min(results.length, data.shown || results.length));
    var vars = { q: data.query, n: shown, cached: !!data.cached, ms: Math.round(data.took_ms) };
    summary.dataset.i18nQuery = "1";
    summary.dataset.cached = data.cached ? "1" : "0";
    var weak = results.slice(0, shown).every(function (r) { return r.relevance === "low"; });
    if (weak) {
      translate(summary, "summaryWeak", vars);
    } else if (state.statuses.length) {
      vars.statusList = state.statuses.slice();
      translate(summary, "summaryFiltered", vars);
    } else {
      translate(summary, "summary", vars);
    }
    var ids = {};
    results.forEach(function (result, rank) {
      var card = resultCard(result, rank);
      if (ids[card.id] && result.report) { card.id = card.id + "-" + result.report.id; }
      ids[card.id] = true;
      if (rank >= shown) { card.hidden = true; card.classList.add("below-cutoff"); }
      list.appendChild(card);
    });
    if (results.length > shown) {
      var item = el("li", "more-item");
      var more = translate(el("button", "show-more"), "showMore", { n: results.length - shown });
      more.type = "button";
      more.addEventListener("click", function () { revealAll(); });
      item.appendChild(more);
      list.appendChild(item);
    }
  }

  /* Show the results below the relevance cut-off. */
  function revealAll() {
    var hidden = document.querySelectorAll("#results .card[hidden]");
    for (var i = 0; i < hidden.length; i++) { hidden[i].hidden = false; }
    var more = document.querySelector("#results .more-item");
    if (more) { more.parentNode.removeChild(more); }
    if (hidden.length) { hidden[0].querySelector(".measure-link").focus(); }
  }

  function relevanceMeter(level) {
    var meter = el("span", "relevance");
    meter.dataset.level = level;
    var bars = el("span", "relevance-bars");
    bars.setAttribute("aria-hidden", "true");
    for (var i = 0; i < 3; i++) { bars.appendChild(el("span", "bar")); }
    meter.appendChild(bars);
    meter.appendChild(translate(el("span", "relevance-label"), "relevance." + level));
    return meter;
  }

  /* Field offsets of the best-matching sentence of a result (for the measure page link). */
  function bestSpot(passages) {
    for (var i = 0; i < passages.length; i++) {
      var p = passages[i];
      if (p.sentence && validSpan(p.sentence, p.text.length)) {
        return { field: p.field, start: p.start + p.sentence.start, end: p.start + p.sentence.end };
      }
    }
    var first = passages[0];
    return first ? { field: first.field, start: first.start, end: first.end } : null;
  }

  function resultCard(result, rank) {
    var card = el("li", "card");
    card.id = "result-" + result.number;
    card.dataset.measure = String(result.number);
    card.dataset.status = result.status;
    card.dataset.relevance = result.relevance || "low";
    card.dataset.score = String(result.score);
    var passages = (result.passages || []).slice();
    var spot = bestSpot(passages);

    setReportData(card, result.report);

    var head = el("div", "card-head");
    var title = el("h3", "card-title");
    var link = el("a", "measure-link");
    link.href = measureHref(result.number, spot, result.report);
    translate(link, "measure", { n: result.number });
    title.appendChild(link);
    head.appendChild(title);
    head.appendChild(statusBadge(result.status));
    head.appendChild(relevanceMeter(result.relevance || "low"));
    card.appendChild(head);
    if (result.report && manyReports()) { card.appendChild(reportLine(result.report, "p", "card-report")); }

    // The recommended measure, with the query's words found in it (offsets into the field).
    var targetTerms = [];
    var targetSentence = null;
    passages.forEach(function (p) {
      if (p.field !== "target") { return; }
      (p.highlights || []).forEach(function (h) {
        targetTerms.push({ start: p.start + h.start, end: p.start + h.end });
      });
      if (p.sentence) { targetSentence = { start: p.start + p.sentence.start, end: p.start + p.sentence.end }; }
    });
    var targetBlock = el("div", "field field-target");
    targetBlock.appendChild(translate(el("h4", "field-label"), "field.target"));
    targetBlock.appendChild(markedText(result.target, targetTerms, targetSentence, TARGET_CHARS));
    card.appendChild(targetBlock);

    // Passages of the other fields that contain the query's words; else the closest one, unmarked.
    var others = passages.filter(function (p) { return p.field !== "target"; });
    var matching = others.filter(function (p) { return (p.highlights || []).length; });
    var shown = matching.length ? matching.slice(0, 2) : others.slice(0, 1);
    if (shown.length) {
      var matches = el("div", "field field-matches");
      matches.dataset.kind = matching.length ? "match" : "related";
      matches.appendChild(translate(el("h4", "field-label"), matching.length ? "matches" : "related"));
      shown.forEach(function (p) {
        var quote = el("blockquote", "passage");
        quote.dataset.field = p.field;
        quote.appendChild(translate(el("span", "passage-field"), "field." + p.field));
        quote.appendChild(markedText(p.text, p.highlights, p.sentence, PASSAGE_CHARS));
        matches.appendChild(quote);
      });
      card.appendChild(matches);
    }

    var actions = el("div", "card-actions");
    var full = translate(el("a", "full-link"), "fullText");
    full.href = measureHref(result.number, spot, result.report);
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
      toggleSimilar(result.number, result.report, similarButton, similarBox);
    });
    return card;
  }

  function toggleSimilar(number, report, button, box) {
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
    var path = "/measures/" + encodeURIComponent(String(number)) + "/similar?k=" + SIMILAR_K;
    if (report && manyReports()) { path += "&report=" + encodeURIComponent(report.id); }
    api(path).then(function (data) {
      clear(box);
      box.dataset.loaded = "1";
      box.appendChild(translate(el("h4", "field-label"), "similarTitle", { n: number }));
      box.appendChild(similarList(data.results || []));
    }, function (error) {
      clear(box);
      var message = error.status === 503 ? translate(el("p", "error-text"), "notReady")
        : error.status === 0 ? translate(el("p", "error-text"), "networkError")
          : translate(el("p", "error-text"), "errorPrefix", { status: error.status, message: error.message });
      box.appendChild(message);
    });
  }

  function similarList(items) {
    var list = el("ul", "similar-list");
    items.forEach(function (item) {
      var li = el("li", "similar-item");
      li.dataset.similar = String(item.number);
      setReportData(li, item.report);
      var link = el("a", "similar-link");
      link.href = measureHref(item.number, null, item.report);
      translate(link, "measure", { n: item.number });
      li.appendChild(link);
      li.appendChild(statusBadge(item.status));
      li.appendChild(el("span", "similar-target", shorten(item.target, 90)));
      list.appendChild(li);
    });
    return list;
  }

  // ---- answer panel ---------------------------------------------------------------------

  var CITE_MARK = /[［\[]\s*(?:施策|[Mm]easure)\s*([0-9０-９]+)\s*[］\]]/g;

  function hideAnswer() {
    var panel = document.getElementById("answer");
    if (panel) { panel.hidden = true; panel.dataset.state = "hidden"; }
  }

  /* While /ask works, the panel holds its place with a placeholder (no jump when it lands). */
  function showAnswerLoading() {
    var panel = document.getElementById("answer");
    var body = document.getElementById("answer-body");
    if (!panel || !body) { return; }
    clear(body);
    var placeholder = el("div", "answer-placeholder");
    placeholder.appendChild(translate(el("p", "muted"), "answerLoading"));
    for (var i = 0; i < 3; i++) { placeholder.appendChild(el("span", "skeleton-line")); }
    body.appendChild(placeholder);
    document.getElementById("sources").hidden = true;
    panel.setAttribute("aria-busy", "true");
    panel.dataset.state = "loading";
    panel.hidden = false;
  }

  function toNumber(text) {
    return parseInt(String(text).replace(/[０-９]/g, function (d) {
      return String.fromCharCode(d.charCodeAt(0) - 0xFEE0);
    }), 10);
  }

  /* One line of the answer: ［施策N］ markers become links to the result card (or /m/N). */
  function answerLine(line) {
    var p = el("p", "answer-line");
    var cursor = 0;
    line.replace(CITE_MARK, function (whole, digits, offset) {
      if (offset > cursor) { p.appendChild(document.createTextNode(line.slice(cursor, offset))); }
      var number = toNumber(digits);
      var link = el("a", "cite-marker", whole);
      link.href = measureHref(number, null);
      link.dataset.cite = String(number);
      link.addEventListener("click", function (event) { goToCard(event, number); });
      p.appendChild(link);
      cursor = offset + whole.length;
      return whole;
    });
    if (cursor < line.length) { p.appendChild(document.createTextNode(line.slice(cursor))); }
    return p;
  }

  function answerBlock(text, className) {
    var block = el("div", className);
    text.split("\n").forEach(function (line) {
      if (line.trim()) { block.appendChild(answerLine(line)); }
    });
    return block;
  }

  /* A marker's click scrolls to that measure's card when the results show it. */
  function goToCard(event, number) {
    var card = document.getElementById("result-" + number);
    if (!card) { return; }
    event.preventDefault();
    if (card.hidden) { revealAll(); }
    card.scrollIntoView({ block: "start", behavior: "smooth" });
    card.classList.remove("flash");
    void card.offsetWidth;  // restart the animation
    card.classList.add("flash");
    var link = card.querySelector(".measure-link");
    if (link) { link.focus({ preventScroll: true }); }
  }

  function startAsk(state, token) {
    var panel = document.getElementById("answer");
    var body = document.getElementById("answer-body");
    if (!panel || !body) { return null; }
    showAnswerLoading();
    var payload = { question: state.q, k: ASK_K };
    if (state.statuses.length) { payload.status = state.statuses; }
    if (state.report) { payload.report = [state.report]; }
    if (state.editions === "all" && !state.report) { payload.editions = "all"; }
    return postJson("/ask", payload).then(function (data) {
      if (token !== runToken) { return; }
      panel.removeAttribute("aria-busy");
      if (!data || (!data.answerable && !data.answer)) { hideAnswer(); return; }
      renderAnswer(panel, body, data);
    }, function (error) {
      if (error.status === 404 || error.status === 405) { askAvailable = false; }
      if (token === runToken) { panel.removeAttribute("aria-busy"); hideAnswer(); }
    });
  }

  function renderAnswer(panel, body, data) {
    clear(body);
    panel.dataset.state = data.answerable ? "answer" : "unanswerable";
    if (!data.answerable || !data.answer) {
      // The service's own refusal, in the question's language (with a status filter, it
      // names the closest measure without it), then why the question was refused.
      if (data.answer) {
        body.appendChild(answerBlock(data.answer, "answer-refusal"));
      } else {
        body.appendChild(translate(el("p", "answer-line"), "notAnswerable"));
      }
      if (data.reason) {
        body.appendChild(translate(el("p", "answer-reason muted"), "refusalReason", { reason: data.reason }));
      }
      document.getElementById("sources").hidden = true;
      panel.hidden = false;
      return;
    }
    // The sentence that answers, and the footnote it cites, in full; what follows folds.
    var text = data.answer;
    var end = typeof data.direct_end === "number" ? Math.min(Math.max(data.direct_end, 0), text.length) : text.length;
    body.appendChild(answerBlock(text.slice(0, end), "answer-direct"));
    var rest = text.slice(end).trim();
    if (rest) {
      var more = answerBlock(rest, "answer-rest");
      more.id = "answer-rest";
      more.hidden = true;
      var toggle = translate(el("button", "answer-more"), "answerMore");
      toggle.type = "button";
      toggle.setAttribute("aria-expanded", "false");
      toggle.setAttribute("aria-controls", "answer-rest");
      toggle.addEventListener("click", function () {
        more.hidden = !more.hidden;
        toggle.setAttribute("aria-expanded", more.hidden ? "false" : "true");
        translate(toggle, more.hidden ? "answerMore" : "answerLess");
      });
      body.appendChild(more);
      body.appendChild(toggle);
    }
    renderSources(data);
    panel.hidden = false;
  }

  /* Each cited measure once: its number and status, and links to the quoted fields. */
  function renderSources(data) {
    var box = document.getElementById("sources");
    var list = document.getElementById("citations");
    clear(list);
    function keyOf(number, report) { return number + "@" + (report ? report.id : ""); }
    var statusOf = {};
    (data.results || []).forEach(function (r) {
      statusOf[keyOf(r.number, r.report)] = r.status;
      if (!has(statusOf, r.number)) { statusOf[r.number] = r.status; }
    });
    var order = [];
    var byKey = {};
    (data.citations || []).forEach(function (cite) {
      var key = keyOf(cite.number, cite.report);
      if (!byKey[key]) { byKey[key] = []; order.push(key); }
      if (!byKey[key].some(function (c) { return c.field === cite.field; })) {
        byKey[key].push(cite);
      }
    });
    order.forEach(function (key) {
      var first = byKey[key][0];
      var number = first.number;
      var li = el("li", "citation");
      li.dataset.cite = String(number);
      setReportData(li, first.report);
      var link = el("a", "citation-link");
      link.href = measureHref(number, first, first.report);
      translate(link, "measure", { n: number });
      li.appendChild(link);
      var status = has(statusOf, key) ? statusOf[key] : statusOf[number];
      if (status) { li.appendChild(statusBadge(status)); }
      byKey[key].forEach(function (cite) {
        var field = el("a", "citation-field");
        field.href = measureHref(number, cite, cite.report);
        translate(field, "field." + cite.field);
        li.appendChild(field);
      });
      if (first.report && manyReports()) { li.appendChild(reportLine(first.report, "span", "citation-report")); }
      list.appendChild(li);
    });
    box.hidden = !order.length;
  }

  // ---- wiring --------------------------------------------------------------------------

  function isTyping(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

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
    var reportSelect = document.getElementById("report");
    if (reportSelect) {
      reportSelect.addEventListener("change", function () {
        readReportSelect();
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
    // "/" anywhere (outside a text field) jumps to the search box.
    document.addEventListener("keydown", function (event) {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) { return; }
      event.preventDefault();
      input.focus();
      input.select();
    });
    window.addEventListener("popstate", function () {
      var state = readUrl();
      fillForm(state);
      run(state, 0);
    });
    var initial = readUrl();
    fillForm(initial);
    loadLimits();
    loadReports();
    if (initial.q) { run(initial, 0); } else { document.body.dataset.state = "idle"; input.focus(); }
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
