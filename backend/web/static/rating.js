/* 随时评 rating page: progressive enhancement only; the form works without this file. */
(function () {
  "use strict";

  function each(list, fn) {
    Array.prototype.forEach.call(list, fn);
  }

  function chosenScore(block) {
    var checked = block.querySelector(".score-input:checked");
    return checked ? checked.value : "";
  }

  /* Show the tags that fit the score: negative ones for low, positive ones for high. */
  function initTarget(block, rules) {
    var hint = block.querySelector(".tags-hint");
    var groups = block.querySelectorAll(".tag-group");
    var boxes = block.querySelectorAll(".tag-group input[type=checkbox]");

    function enforceLimit() {
      var count = 0;
      each(boxes, function (box) { if (box.checked) { count += 1; } });
      var full = count >= rules.maxTags;
      each(boxes, function (box) { box.disabled = full && !box.checked; });
      return full;
    }

    function update() {
      var raw = chosenScore(block);
      var score = /^\d+$/.test(raw) ? parseInt(raw, 10) : NaN;
      each(groups, function (group) {
        var negative = group.getAttribute("data-polarity") === "negative";
        var show = !isNaN(score) && (negative ? score <= rules.negativeMax
                                              : score >= rules.positiveMin);
        group.hidden = !show;
        if (!show) {
          each(group.querySelectorAll("input"), function (box) { box.checked = false; });
        }
      });
      var full = enforceLimit();
      if (!hint) { return; }
      if (raw === "") {
        hint.textContent = "请先选择分数，再选择相应的印象标签。";
      } else if (isNaN(score)) {
        hint.textContent = "选择“无法评价”时无需选择标签。";
      } else {
        hint.textContent = full ? "已选满 " + rules.maxTags + " 个标签。" : "";
      }
    }

    each(block.querySelectorAll(".score-input"), function (radio) {
      radio.addEventListener("change", update);
    });
    each(boxes, function (box) { box.addEventListener("change", update); });
    update();
  }

  function initCounter(form) {
    var area = form.querySelector("#comment");
    var value = form.querySelector("#comment-count .count-value");
    if (!area || !value) { return; }
    var max = area.getAttribute("maxlength");
    function update() { value.textContent = area.value.length + "/" + max; }
    area.addEventListener("input", update);
    update();
  }

  function initFollowup(form) {
    var consent = form.querySelector("#followup");
    var row = form.querySelector("#followup-phone-row");
    var phone = form.querySelector("#followup_phone");
    if (!consent || !row || !phone) { return; }
    function update() {
      row.hidden = !consent.checked;
      phone.required = consent.checked;
      consent.setAttribute("aria-expanded", consent.checked ? "true" : "false");
    }
    consent.addEventListener("change", update);
    update();
  }

  function initSubmit(form) {
    var button = form.querySelector("#submit-button");
    var label = button ? button.textContent : "";
    window.addEventListener("pageshow", function (event) {
      if (event.persisted && button) {  // back from the next page: allow another try
        button.disabled = false;
        button.textContent = label;
      }
    });
    form.addEventListener("submit", function () {
      if (button) {
        // A second click would arrive after the link is used and show "已评价".
        window.setTimeout(function () {
          button.disabled = true;
          button.textContent = "正在提交…";
        }, 0);
      }
    });
  }

  /* Report the first opening to the server. Link scanners and prefetchers fetch the page but
     run no script, so only a person's browser sends this; a prerendered (hidden) page waits
     until it is shown. The server keeps the first report only. */
  function reportOpened(form) {
    var url = form.getAttribute("data-opened-url");
    var csrf = form.querySelector("input[name=csrf_token]");
    var sent = false;
    if (!url || !csrf || !window.URLSearchParams) { return; }
    function send() {
      if (sent || document.visibilityState === "hidden") { return; }
      sent = true;
      var body = new URLSearchParams();
      body.append("csrf_token", csrf.value);
      if (navigator.sendBeacon && navigator.sendBeacon(url, body)) { return; }
      if (window.fetch) {
        window.fetch(url, {method: "POST", body: body, keepalive: true,
                           credentials: "same-origin"}).catch(function () {});
      }
    }
    document.addEventListener("visibilitychange", send);
    send();
  }

  function initForm(form) {
    var rules = {
      maxTags: parseInt(form.getAttribute("data-max-tags"), 10) || 5,
      negativeMax: parseInt(form.getAttribute("data-negative-max"), 10),
      positiveMin: parseInt(form.getAttribute("data-positive-min"), 10)
    };
    each(form.querySelectorAll(".target"), function (block) { initTarget(block, rules); });
    initCounter(form);
    initFollowup(form);
    initSubmit(form);
    reportOpened(form);
    var alert = document.getElementById("form-errors");
    if (alert && !alert.hidden) { alert.scrollIntoView(); }
  }

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function initCopy() {
    var button = document.getElementById("copy-receipt");
    var receipt = document.getElementById("receipt");
    var status = document.getElementById("copy-status");
    if (!button || !receipt) { return; }
    button.hidden = false;
    function fallback() {
      selectText(receipt);
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
      status.textContent = copied ? "已复制到剪贴板" : "已选中凭证，请长按复制";
    }
    button.addEventListener("click", function () {
      var text = receipt.textContent.trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () {
          status.textContent = "已复制到剪贴板";
        }, fallback);
      } else {
        fallback();
      }
    });
  }

  var form = document.getElementById("rating-form");
  if (form) { initForm(form); }
  initCopy();
}());
