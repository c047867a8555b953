"use strict";
// 核酸采样点页面: a keyboard-wedge scanner types into one always-focused input and ends with Enter.
// First scan = tube, then people. Scans made while the network is down wait in localStorage and go
// up as one NDJSON batch (idempotent on client_ref) when it returns. See docs/sampling.md.
(() => {
  const $ = (id) => document.getElementById(id);
  const store = window.localStorage;
  const session = window.sessionStorage;
  const K = { queue: "dc.sampling.queue", closes: "dc.sampling.closes", shift: "dc.sampling.shift",
    setup: "dc.sampling.setup", tube: "dc.sampling.tube", token: "dc.sampling.token" };
  let tubePattern = /^[A-Za-z0-9]{8,20}$/;
  let tube = load(K.tube, null); // {barcode, filled, pool_size}
  let setup = load(K.setup, null); // {point, pool_size}
  let chain = Promise.resolve(); // scans are handled one at a time, in the order they were made
  let uploading = false;
  let audio = null;

  function load(key, fallback) {
    try { const v = store.getItem(key); return v === null ? fallback : JSON.parse(v); } catch (e) { return fallback; }
  }
  function save(key, value) { store.setItem(key, JSON.stringify(value)); }
  function uuid() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function beep(ok) {
    document.body.dataset.beep = ok ? "ok" : "error";
    try {
      audio = audio || new AudioContext();
      const osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = ok ? "sine" : "square";
      osc.frequency.value = ok ? 1200 : 280;
      gain.gain.value = 0.2;
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(); osc.stop(audio.currentTime + (ok ? 0.08 : 0.6));
    } catch (e) { /* no sound device: the text still shows */ }
  }
  function say(text, ok) {
    const m = $("message");
    m.textContent = text;
    m.className = "message " + (ok ? "ok" : "error");
    beep(ok);
  }
  function addRecent(text) {
    const li = document.createElement("li");
    li.textContent = text;
    $("recent").prepend(li);
    while ($("recent").children.length > 5) $("recent").lastChild.remove();
  }
  function bumpShift(n) { save(K.shift, load(K.shift, 0) + n); }
  function setTube(value) { tube = value; save(K.tube, value); render(); }
  function render() {
    $("tube").textContent = tube ? tube.barcode : "未扫描";
    $("position").textContent = tube ? `${tube.filled}/${tube.pool_size}` : `0/${setup ? setup.pool_size : 0}`;
    $("shift-count").textContent = String(load(K.shift, 0));
    $("queue-count").textContent = String(load(K.queue, []).length);
    $("prompt").textContent = tube ? "请扫描受检者的码或卡" : "请扫描试管条码";
    $("net").textContent = navigator.onLine ? "在线" : "离线";
    $("net").className = "net " + (navigator.onLine ? "online" : "offline");
  }
  const CHINESE = {
    "DC-1009": "请求不完整", "DC-2003": "当前账号没有采样登记权限", "DC-5001": "卡平台暂时无响应，请稍后重试",
    "DC-5101": "无法识别该码，请重新扫描或手输身份证", "DC-5102": "码已过期，请受检者刷新后再扫",
    "DC-5103": "该码已使用过，请受检者刷新后再扫", "DC-5104": "码校验失败，疑似伪造", "DC-5105": "该卡已暂停使用",
    "DC-5106": "该卡不允许此用途", "DC-5107": "平台查无此人", "DC-5108": "读卡信息无效", "DC-5109": "卡平台拒绝了请求",
    "DC-5110": "身份证号码无效", "DC-6001": "试管条码格式不对", "DC-6002": "试管已满，请扫描新试管",
    "DC-6003": "试管已封管，请扫描新试管", "DC-6004": "试管规格不符（人数已由首次登记固定）",
    "DC-6005": "查无此试管", "DC-6006": "该试管属于其他采样点", "DC-9001": "服务器繁忙，请稍后重试",
  };
  function errorText(body) {
    const issue = body && body.issue && body.issue[0];
    if (!issue) return "服务器无法处理该请求";
    const code = issue.details && issue.details.coding && issue.details.coding[0].code;
    const text = (issue.details && issue.details.text) || issue.diagnostics;
    return CHINESE[code] ? `${CHINESE[code]}（${code}）` : `${text}（${code || "错误"}）`;
  }
  function showLogin(reason) {
    session.removeItem(K.token);
    $("work").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = reason || "";
    if (setup) $("point").value = setup.point;
    $("client-id").focus();
  }
  function showWork() {
    $("login").hidden = true;
    $("work").hidden = false;
    render();
    $("scan").focus();
  }

  async function api(path, options) {
    const headers = Object.assign({ Authorization: "Bearer " + session.getItem(K.token) }, options.headers || {});
    const response = await fetch(path, Object.assign({}, options, { headers })); // throws when offline
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (response.status === 401) showLogin("登录已过期，请重新登录（离线数据已保留）");
    return { status: response.status, body };
  }

  function personRequest(text) {
    const request = { tube: tube.barcode, point: setup.point, pool_size: tube.pool_size };
    const typed = /^([0-9]{17}[0-9Xx])\s+(\S.*)$/.exec(text); // 手输身份证：证件号 空格 姓名
    if (typed) Object.assign(request, { code: typed[1], kind: "idcard", name: typed[2].trim() });
    else request.code = text;
    return request;
  }

  async function onScan(text) {
    if (!text) return;
    if (!tube) {
      if (!tubePattern.test(text)) { say(`试管条码格式不对：${text}`, false); return; }
      setTube({ barcode: text, filled: 0, pool_size: setup.pool_size });
      say(`已开始试管 ${text}，请扫描受检者`, true);
      return;
    }
    const request = personRequest(text);
    if (load(K.queue, []).length > 0 || !navigator.onLine) { enqueue(request); return; }
    let answer;
    try {
      answer = await api("/sampling/registrations", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request) });
    } catch (e) { enqueue(request); return; }
    await settle(answer);
  }

  async function settle({ status, body }) {
    if (status === 401) return;
    if (status !== 200 && status !== 201) {
      say(errorText(body), false);
      const code = body && body.issue && body.issue[0].details.coding[0].code;
      if (["DC-6002", "DC-6003", "DC-6004", "DC-6006"].includes(code)) setTube(null); // this tube is done
      return;
    }
    if (status === 201) bumpShift(1);
    const flagged = body.flags ? "（注意：本轮已在其他试管登记）" : "";
    say(`${status === 201 ? "登记成功" : "已登记过"}：${body.name_masked} 第 ${body.position}/${body.pool_size} 位${flagged}`,
      true);
    $("last-name").textContent = body.name_masked;
    addRecent(`${body.tube} #${body.position} ${body.name_masked}`);
    if (tube && tube.barcode === body.tube) setTube(Object.assign(tube, { filled: body.filled }));
    if (body.tube_status === "full") await closeTube(body.tube, "满管");
  }

  function enqueue(request) {
    const items = load(K.queue, []);
    items.push(Object.assign({ client_ref: uuid(), scanned_at: new Date().toISOString() }, request));
    save(K.queue, items);
    tube.filled += 1; // expected; corrected from the server after the upload
    setTube(tube);
    say(`网络中断，已暂存：第 ${tube.filled}/${tube.pool_size} 位，联网后自动上传`, true);
    if (tube.filled >= tube.pool_size) {
      save(K.closes, load(K.closes, []).concat([tube.barcode]));
      say(`试管 ${tube.barcode} 已满，联网后自动封管。请扫描新试管`, true);
      setTube(null);
    }
  }

  async function closeTube(barcode, why) {
    if (tube && tube.barcode === barcode) setTube(null);
    if (load(K.queue, []).length > 0) { save(K.closes, load(K.closes, []).concat([barcode])); return; }
    try {
      const r = await api(`/sampling/tubes/${encodeURIComponent(barcode)}/close`, { method: "POST" });
      if (r.status === 200) say(`试管 ${barcode} ${why}，已封管。请扫描新试管`, true);
      else if (r.status !== 401) say(errorText(r.body), false);
    } catch (e) {
      save(K.closes, load(K.closes, []).concat([barcode]));
      say(`网络中断：试管 ${barcode} 将在联网后封管。请扫描新试管`, true);
    }
  }

  async function flush() {
    if (uploading || !session.getItem(K.token) || !navigator.onLine) return;
    uploading = true;
    try {
      const items = load(K.queue, []);
      if (items.length > 0) {
        const body = items.map((item) => JSON.stringify(item)).join("\n") + "\n";
        const r = await api("/sampling/registrations:batch", {
          method: "POST", headers: { "Content-Type": "application/x-ndjson" }, body });
        if (r.status !== 200) { if (r.status !== 401) say(`离线数据上传失败：${errorText(r.body)}`, false); return; }
        const done = new Set(r.body.lines.map((line) => line.client_ref));
        save(K.queue, load(K.queue, []).filter((item) => !done.has(item.client_ref)));
        bumpShift(r.body.created);
        const rejected = r.body.lines.filter((line) => line.status === "rejected");
        r.body.lines.filter((l) => l.status !== "rejected").forEach((l) => addRecent(`${l.tube} #${l.position} ${l.name_masked}`));
        if (rejected.length) say(`离线登记已上传 ${r.body.created} 条，${rejected.length} 条被拒绝：` +
          rejected.map((l) => errorText({ issue: [{ details: { coding: [{ code: l.error.code }],
            text: l.error.message } }] })).join("；"), false);
        else say(`离线登记已上传：新增 ${r.body.created} 条`, true);
      }
      const closes = load(K.closes, []);
      for (const barcode of closes) {
        const r = await api(`/sampling/tubes/${encodeURIComponent(barcode)}/close`, { method: "POST" });
        if (r.status === 200 || r.status === 404) save(K.closes, load(K.closes, []).filter((b) => b !== barcode));
      }
      if (tube && items.length > 0) {
        const r = await api(`/sampling/tubes/${encodeURIComponent(tube.barcode)}`, { method: "GET" });
        if (r.status === 200) setTube(Object.assign(tube, { filled: r.body.filled }));
      }
    } catch (e) { /* still offline: try again later */ } finally { uploading = false; render(); }
  }

  function onKey(event) {
    if (event.key === "Enter") {
      event.preventDefault();
      const text = event.target.value.trim();
      event.target.value = "";
      chain = chain.then(() => onScan(text)).then(render, (e) => say(`页面错误：${e}`, false));
    } else if (event.key === "F2") {
      event.preventDefault();
      if (tube) { const barcode = tube.barcode; chain = chain.then(() => closeTube(barcode, "手动封管")); }
    } else if (event.key === "F9") {
      event.preventDefault();
      save(K.shift, 0); render(); say("新班次：计数已清零", true);
    }
  }

  async function login(event) {
    event.preventDefault();
    const form = new URLSearchParams({ grant_type: "client_credentials",
      client_id: $("client-id").value.trim(), client_secret: $("client-secret").value });
    try {
      const response = await fetch("/oauth/token", { method: "POST", body: form });
      const body = await response.json();
      if (response.status !== 200) { $("login-error").textContent = `登录失败：${errorText(body)}`; return; }
      session.setItem(K.token, body.access_token);
    } catch (e) { $("login-error").textContent = "无法连接服务器"; return; }
    setup = { point: $("point").value.trim(), pool_size: Number($("pool-size").value) };
    save(K.setup, setup);
    $("client-secret").value = "";
    showWork();
    flush();
  }

  async function start() {
    try {
      const config = await (await fetch("/sampling/config")).json();
      tubePattern = new RegExp(`^(?:${config.tube_pattern})$`);
    } catch (e) { /* offline at start: keep the default format */ }
    $("login-form").addEventListener("submit", login);
    $("scan").addEventListener("keydown", onKey);
    $("scan").addEventListener("blur", () => setTimeout(() => { if (!$("work").hidden) $("scan").focus(); }, 0));
    $("logout").addEventListener("click", () => showLogin(""));
    window.addEventListener("online", () => { render(); flush(); });
    window.addEventListener("offline", render);
    setInterval(flush, 3000);
    if (session.getItem(K.token) && setup) { showWork(); flush(); } else showLogin("");
  }
  document.addEventListener("DOMContentLoaded", start);
})();
