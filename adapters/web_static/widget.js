/*
 * shopbot chat widget. Embed it on any page with one tag:
 *
 *   <script src="https://YOUR-SHOPBOT-HOST/widget.js" data-title="Your Shop" async></script>
 *
 * Optional attributes: data-title (panel heading), data-open="true" (start opened).
 * It talks to the server it was loaded from (websocket /ws, protocol in the README), keeps its
 * session token in localStorage, streams replies as they are written, reconnects with
 * backoff and shows the conversation's history again after a reconnect.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__shopbotWidget) return;
  window.__shopbotWidget = true;

  var base = new URL(script.src, location.href);
  var wsUrl = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/ws";
  var title = script.getAttribute("data-title") || "Chat with us";
  var tokenKey = "shopbot.token." + base.host;

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif}",
    ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:28px;",
    "padding:14px 20px;background:#1f5f4a;color:#fff;font-size:15px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".panel{position:fixed;right:20px;bottom:84px;z-index:2147483000;width:360px;max-width:calc(100vw - 40px);",
    "height:520px;max-height:calc(100vh - 110px);display:none;flex-direction:column;background:#fff;",
    "border-radius:14px;box-shadow:0 8px 30px rgba(0,0,0,.25);overflow:hidden}",
    ".panel.open{display:flex}",
    ".head{background:#1f5f4a;color:#fff;padding:12px 16px;font-size:16px;font-weight:600;display:flex;justify-content:space-between}",
    ".status{font-size:12px;font-weight:400;opacity:.85}",
    ".log{flex:1;overflow-y:auto;padding:12px;background:#f6f7f6}",
    ".msg{max-width:85%;margin:6px 0;padding:8px 12px;border-radius:12px;font-size:14px;line-height:1.4;white-space:pre-wrap;word-wrap:break-word}",
    ".user{margin-left:auto;background:#1f5f4a;color:#fff;border-bottom-right-radius:3px}",
    ".assistant,.staff{background:#fff;color:#1d1d1d;border:1px solid #e2e4e2;border-bottom-left-radius:3px}",
    ".staff{border-color:#c9a227}",
    ".notice{margin:6px auto;background:none;color:#8a3b12;font-size:12px;text-align:center}",
    ".typing span{display:inline-block;width:6px;height:6px;margin:0 2px;border-radius:50%;background:#999;animation:b 1s infinite}",
    ".typing span:nth-child(2){animation-delay:.15s}.typing span:nth-child(3){animation-delay:.3s}",
    "@keyframes b{0%,80%,100%{opacity:.3}40%{opacity:1}}",
    ".sources{font-size:11px;color:#666;margin-top:4px}",
    ".quick{display:flex;flex-wrap:wrap;gap:6px;padding:0 12px 8px;background:#f6f7f6}",
    ".quick button{border:1px solid #1f5f4a;background:#fff;color:#1f5f4a;border-radius:14px;padding:5px 10px;font-size:13px;cursor:pointer}",
    ".link{margin-left:auto;margin-right:8px;border:1px solid rgba(255,255,255,.6);background:none;color:inherit;border-radius:10px;padding:2px 8px;font-size:11px;cursor:pointer}",
    "form{display:flex;border-top:1px solid #e2e4e2}",
    "textarea{flex:1;border:0;padding:12px;font-size:14px;resize:none;height:48px;outline:none}",
    "form button{border:0;background:#1f5f4a;color:#fff;padding:0 16px;font-size:14px;cursor:pointer}",
  ].join("");

  var host = document.createElement("div");
  host.id = "shopbot-widget";
  var root = host.attachShadow({ mode: "open" });
  root.innerHTML =
    '<style>' + CSS + '</style>' +
    '<button class="launcher" part="launcher" type="button">Chat with us</button>' +
    '<section class="panel" role="dialog" aria-label="Chat">' +
    '  <div class="head"><span class="title"></span>' +
    '  <button class="link" type="button" title="Get a code to continue this chat on Telegram">Link Telegram</button>' +
    '  <span class="status" aria-live="polite"></span></div>' +
    '  <div class="log" role="log" aria-live="polite"></div>' +
    '  <div class="quick"></div>' +
    '  <form><textarea placeholder="Type your question..." aria-label="Your message" maxlength="2000"></textarea>' +
    '  <button type="submit">Send</button></form>' +
    '</section>';
  document.body.appendChild(host);

  var $ = function (sel) { return root.querySelector(sel); };
  var panel = $(".panel"), log = $(".log"), quick = $(".quick"), input = $("textarea"), statusEl = $(".status");
  $(".title").textContent = title;

  var ws = null, attempt = 0, reconnectTimer = null;
  var pending = [];          // messages sent but not answered yet: resent after a reconnect
  var bubbles = {};          // message id -> the bubble its reply is written into

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  function scroll() { log.scrollTop = log.scrollHeight; }

  function bubble(role, text) {
    var el = document.createElement("div");
    el.className = "msg " + role;
    el.textContent = text;
    log.appendChild(el);
    scroll();
    return el;
  }

  function typingBubble(id) {
    var el = bubbles[id];
    if (!el) {
      el = bubble("assistant", "");
      bubbles[id] = el;
    }
    if (!el.textContent) {
      el.classList.add("typing");
      el.innerHTML = "<span></span><span></span><span></span>";
    }
    return el;
  }

  function write(id, text, append) {
    var el = bubbles[id] || typingBubble(id);
    if (el.classList.contains("typing")) {
      el.classList.remove("typing");
      el.textContent = "";
    }
    el.textContent = append ? el.textContent + text : text;
    scroll();
    return el;
  }

  function showSources(el, sources) {
    if (!el || !sources || !sources.length) return;
    var src = document.createElement("div");
    src.className = "sources";
    src.textContent = "Sources: " + sources.map(function (s) { return s.title; }).join(", ");
    el.appendChild(src);
  }

  function setQuickReplies(buttons) {
    quick.textContent = "";
    (buttons || []).forEach(function (b) {
      var btn = document.createElement("button");
      btn.type = "button";
      btn.textContent = b.label;
      btn.addEventListener("click", function () { send(b.text, b.label); });
      quick.appendChild(btn);
    });
  }

  function setStatus(text) { statusEl.textContent = text; }

  function finish(id) {
    pending = pending.filter(function (p) { return p.id !== id; });
    delete bubbles[id];
  }

  function transmit(item) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: "message", text: item.text, id: item.id }));
    }
  }

  function send(text, shown) {
    text = (text || "").trim();
    if (!text) return;
    bubble("user", shown || text);
    setQuickReplies([]);
    var item = { id: newId(), text: text };
    pending.push(item);
    transmit(item);   // when offline it waits in `pending` and goes out after reconnecting
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "session":
        try { localStorage.setItem(tokenKey, frame.token); } catch (e) { /* private mode: session lasts this page */ }
        if (frame["new"]) pending.forEach(transmit);
        break;
      case "history":
        log.textContent = "";
        bubbles = {};
        var answered = {};
        (frame.messages || []).forEach(function (m) {
          showSources(bubble(m.role, m.text), m.sources);
          if (m.id) answered[m.id] = true;
        });
        // A message whose answer arrived while we were away is in the history: done.
        pending = pending.filter(function (p) { return !answered[p.id]; });
        pending.forEach(function (p) { bubble("user", p.text); transmit(p); });
        break;
      case "typing":
        typingBubble(frame.id);
        break;
      case "delta":
        write(frame.id, frame.text, true);
        break;
      case "reply":
        var el = write(frame.id, frame.text, false);
        showSources(el, frame.sources);
        el.classList.add("done");
        setQuickReplies(frame.quick_replies);
        finish(frame.id);
        break;
      case "forwarded":
        // A person from the shop has the conversation: the message went to them, no answer
        // from the assistant (theirs comes as a "push").
        if (bubbles[frame.id]) { log.removeChild(bubbles[frame.id]); }
        finish(frame.id);
        break;
      case "push":
        bubble(frame.role === "staff" ? "staff" : "assistant", frame.text);
        if (frame.quick_replies && frame.quick_replies.length) setQuickReplies(frame.quick_replies);
        break;
      case "error":
        if (frame.id && bubbles[frame.id]) { log.removeChild(bubbles[frame.id]); }
        if (frame.code === "unavailable" && frame.id) {
          // The server lost its store for a moment: keep the message and send it again,
          // waiting longer each time; say so once.
          delete bubbles[frame.id];
          var item = pending.filter(function (p) { return p.id === frame.id; })[0];
          if (item) {
            item.retries = (item.retries || 0) + 1;
            if (item.retries === 1) bubble("notice", frame.message);
            setTimeout(function () { transmit(item); }, Math.min(30000, 1500 * Math.pow(2, item.retries)));
          }
          break;
        }
        var waiting = pending.filter(function (p) { return p.id === frame.id; })[0];
        if (frame.code === "duplicate" && waiting && (waiting.retries || 0) < 5) {
          // Still being answered (or its claim is lapsing after an outage): ask again shortly.
          waiting.retries = (waiting.retries || 0) + 1;
          delete bubbles[frame.id];
          setTimeout(function () { transmit(waiting); }, 2000 * waiting.retries);
          break;
        }
        if (frame.id) finish(frame.id);
        bubble("notice", frame.message);
        break;
    }
  }

  function connect() {
    clearTimeout(reconnectTimer);
    var token = null;
    try { token = localStorage.getItem(tokenKey); } catch (e) { token = null; }
    setStatus(attempt ? "reconnecting..." : "connecting...");
    ws = new WebSocket(wsUrl + (token ? "?token=" + encodeURIComponent(token) : ""));
    ws.onopen = function () { attempt = 0; setStatus("online"); };
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      onFrame(frame);
    };
    ws.onclose = function () {
      ws = null;
      // Exponential backoff with jitter, so a restarted server is not hit by every widget at once.
      var delay = Math.min(30000, 500 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
      attempt += 1;
      setStatus("offline, retrying in " + Math.ceil(delay / 1000) + " s");
      reconnectTimer = setTimeout(connect, delay);
    };
  }

  $(".launcher").addEventListener("click", function () {
    panel.classList.toggle("open");
    if (panel.classList.contains("open")) input.focus();
  });
  // The reverse of /link in Telegram: a code to type there (the server's /link command).
  $(".link").addEventListener("click", function () { send("/link"); });
  $("form").addEventListener("submit", function (event) {
    event.preventDefault();
    send(input.value);
    input.value = "";
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      send(input.value);
      input.value = "";
    }
  });

  if (script.getAttribute("data-open") === "true") panel.classList.add("open");
  connect();
})();
