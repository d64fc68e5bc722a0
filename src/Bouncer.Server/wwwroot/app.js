// The simulator: a real browser client of the Bouncer server. It holds credentials as Bouncer recommends
// for single-page apps: the session id only in its HttpOnly cookie, the access token in this closure
// (never localStorage), the refresh token in an HttpOnly cookie scoped to /auth/refresh.
"use strict";
(() => {
  const suffix = Math.random().toString(36).slice(2, 10);
  const password = crypto.getRandomValues(new Uint32Array(4)).join("-");
  const state = {
    session: { user: "demo-session-" + suffix, registered: false, loggedIn: false },
    jwt: { user: "demo-jwt-" + suffix, registered: false, accessToken: null, expiresAt: 0 },
    // No user of its own: the browser has one session cookie, so the hybrid column is the Session user.
    hybrid: { accessToken: null, expiresAt: 0 },
    // /api/me accepts only tokens for the deployment's own audience; /demo/state names it. Until then,
    // Bouncer's default.
    audience: "bouncer",
    // Which column's token the inspector shows, so one column's log-out does not blank the other's.
    inspecting: null,
    demo: false,
    // The push toggle acts on this visitor's own users only (the server keeps it per user): the wanted setting is
    // kept here and sent with each credential the page holds, again after each log-in.
    push: true,
  };

  const $ = (sel, root = document) => root.querySelector(sel);

  function parseTrace(header) {
    const trace = {};
    (header || "").split(";").forEach(part => {
      const [k, v] = part.split("=").map(s => s && s.trim());
      if (k) trace[k] = v;
    });
    return trace;
  }

  function bump(column, name, by) {
    const dd = $(`[data-counter="${name}"]`, column);
    dd.textContent = String(Number(dd.textContent) + by);
  }

  function addStep(column, step) {
    const li = document.createElement("li");
    li.className = step.ok ? "ok" : "bad";
    const sent = document.createElement("div");
    sent.textContent = step.sent;
    const did = document.createElement("div");
    did.className = "did";
    did.textContent = step.did;
    const status = document.createElement("div");
    status.className = "status";
    status.textContent = step.answer;
    li.append(sent, did, status);
    $(".timeline", column).prepend(li);
  }

  // One real request; the server's Bouncer-Trace header says what it did.
  // Bearer clients send no cookies (cookies: false): without a token the request must go out with no credential,
  // not fall back on this browser's session cookie and act as the Session column's user.
  async function call(strategy, label, method, path, { body, bearer, cookies = true } = {}) {
    const column = $(`#col-${strategy}`);
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (bearer) headers["Authorization"] = "Bearer " + bearer;
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: cookies ? "same-origin" : "omit" });
    } catch (e) {
      addStep(column, { ok: false, sent: `${label}: ${method} ${path}`, did: "network error", answer: String(e) });
      return { status: 0 };
    }
    const trace = parseTrace(response.headers.get("Bouncer-Trace"));
    const text = await response.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    const bytes = Number(trace["credential-bytes"] || 0);
    const lookups = Number(trace["session-lookups"] || 0);
    const store = Number(trace["store-lookups"] || 0);
    const signatures = Number(trace["signature-checks"] || 0);
    const revocation = Number(trace["revocation-checks"] || 0);
    bump(column, "requests", 1);
    bump(column, "lookups", lookups);
    bump(column, "store", store);
    bump(column, "signatures", signatures);
    bump(column, "bytes", bytes);
    const credential = trace.strategy === "session" ? `session cookie (${bytes} bytes)`
      : trace.strategy === "jwt" ? `bearer token (${bytes} bytes)` : "no credential";
    const did = [
      lookups ? `session lookup: ${store ? "store round trip" : "near cache (memory)"}` : "no session lookup",
      signatures ? "signature verified" : "no signature check",
      revocation ? "revocation state checked in memory" : "no revocation check",
    ].join(" · ");
    const reason = (json && json.reason) || trace.reason;
    const ok = response.status >= 200 && response.status < 300;
    addStep(column, {
      ok,
      sent: `${label}: ${method} ${path} with ${credential}`,
      did,
      answer: `${response.status}${reason ? " " + reason : ok ? " OK" : ""}`,
    });
    return { status: response.status, json, reason };
  }

  // account: whose user; the steps go to the strategy's column (the hybrid column registers the Session user).
  async function ensureUser(strategy, account = strategy) {
    const s = state[account];
    if (s.registered) return;
    const r = await call(strategy, "Register", "POST", "/auth/register", { body: { username: s.user, password } });
    s.registered = r.status === 201 || r.status === 409;
  }

  const tokenSource = {
    jwt: "From the JWT column: the access token of /auth/login or /auth/refresh.",
    hybrid: "From the Bouncer hybrid column: minted from the session by POST /auth/token; its sid is the session's.",
  };

  function showToken(token, strategy) {
    const box = $("#inspector");
    box.replaceChildren();
    state.inspecting = token ? strategy : null;
    if (!token) { box.textContent = "No token held."; return; }
    const [h, p, sig] = token.split(".");
    const decode = part => {
      const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
      const bytes = Uint8Array.from(atob(b64 + "===".slice((b64.length + 3) % 4)), c => c.charCodeAt(0));
      return JSON.stringify(JSON.parse(new TextDecoder().decode(bytes)), null, 2);
    };
    const source = document.createElement("p");
    source.className = "source";
    source.textContent = tokenSource[strategy];
    box.append(source);
    for (const [title, content] of [["Header", decode(h)], ["Payload", decode(p)], ["Signature (base64url, not checked here)", sig]]) {
      const heading = document.createElement("h3");
      heading.textContent = title;
      const pre = document.createElement("pre");
      pre.textContent = content;
      box.append(heading, pre);
    }
  }

  const lifetimeText = {
    jwt: (min, sec) => `Access token valid for ${min} min ${sec} s more: without push revocation, that is how long a revoked user keeps access.`,
    hybrid: (min, sec) => min + sec > 0
      ? `Hybrid token valid for ${min} min ${sec} s more: without push revocation, that is how long it outlives a revoked session (which mints no more).`
      : "Hybrid token expired: the next request mints a new one from the session.",
  };

  function showLifetime() {
    for (const strategy of ["jwt", "hybrid"]) {
      const p = $("[data-lifetime]", $(`#col-${strategy}`));
      const s = state[strategy];
      if (!s.accessToken) { p.hidden = true; continue; }
      const left = Math.max(0, Math.round((s.expiresAt - Date.now()) / 1000));
      p.hidden = false;
      p.textContent = lifetimeText[strategy](Math.floor(left / 60), left % 60);
    }
  }
  setInterval(showLifetime, 1000);

  function keepToken(strategy, json) {
    if (json && json.access_token) {
      state[strategy].accessToken = json.access_token;
      state[strategy].expiresAt = Date.now() + json.expires_in * 1000;
      showToken(json.access_token, strategy);
      showLifetime();
    }
  }

  function dropToken(strategy) {
    state[strategy].accessToken = null;
    if (state.inspecting === strategy) showToken(null);
    showLifetime();
  }

  async function mint(label) {
    const r = await call("hybrid", label, "POST", "/auth/token", { body: { audience: state.audience } });
    keepToken("hybrid", r.json);
    return r;
  }

  // One session lookup buys a token good for the exchange lifetime of lookup-free requests, so mint only
  // when none is held or it is about to run out (one expiring in flight would be a wasted request).
  async function hybridToken() {
    const s = state.hybrid;
    if (s.accessToken && s.expiresAt - Date.now() > 5000) return s.accessToken;
    const r = await mint("Mint JWT from the session");
    return r.json && r.json.access_token ? s.accessToken : null;
  }

  const actions = {
    session: {
      async login() {
        await ensureUser("session");
        const r = await call("session", "Log in", "POST", "/auth/login", { body: { username: state.session.user, password, mode: "session" } });
        state.session.loggedIn = r.status === 204;
        if (!state.push) await sendPush();
      },
      request: () => call("session", "Request", "GET", "/api/me"),
      // Sessions need no client-side refresh: the idle deadline slides on the server. Listing the
      // sessions shows "last seen" moving.
      refresh: () => call("session", "Refresh (sessions slide on their own)", "GET", "/auth/sessions"),
      revoke: () => call("session", "Revoke (admin ends the user's access)", "POST", "/demo/revoke"),
      expire: () => call("session", "Expire (demo clock)", "POST", "/demo/expire"),
      logout: () => call("session", "Log out", "POST", "/auth/logout"),
    },
    jwt: {
      async login() {
        await ensureUser("jwt");
        const r = await call("jwt", "Log in", "POST", "/auth/login", { body: { username: state.jwt.user, password, mode: "jwt", transport: "cookie" } });
        keepToken("jwt", r.json);
        if (!state.push) await sendPush();
      },
      request: () => call("jwt", "Request", "GET", "/api/me", { bearer: state.jwt.accessToken, cookies: false }),
      async refresh() {
        const r = await call("jwt", "Refresh (cookie)", "POST", "/auth/refresh", { body: { transport: "cookie" } });
        keepToken("jwt", r.json);
      },
      revoke: () => call("jwt", "Revoke (admin ends the user's access)", "POST", "/demo/revoke", { bearer: state.jwt.accessToken, cookies: false }),
      expire: () => call("jwt", "Expire (demo clock)", "POST", "/demo/expire", { bearer: state.jwt.accessToken, cookies: false }),
      async logout() {
        // With a token the cookies go too, so the answer that expires the refresh cookie is taken.
        await call("jwt", "Log out", "POST", "/auth/logout", { bearer: state.jwt.accessToken, cookies: Boolean(state.jwt.accessToken) });
        dropToken("jwt");
      },
    },
    hybrid: {
      async login() {
        await ensureUser("hybrid", "session");
        const r = await call("hybrid", "Log in (session)", "POST", "/auth/login", { body: { username: state.session.user, password, mode: "session" } });
        state.session.loggedIn = r.status === 204;
        // Login replaces the session (fixation defence), so a token minted from the old one is not kept.
        if (r.status === 204) dropToken("hybrid");
        if (!state.push) await sendPush();
      },
      async request() {
        const token = await hybridToken();
        if (token) await call("hybrid", "Request", "GET", "/api/me", { bearer: token, cookies: false });
      },
      refresh: () => mint("Refresh (mint a new JWT from the session)"),
      // The admin acts on the user, as in the other columns; the session cookie says which user.
      revoke: () => call("hybrid", "Revoke (admin ends the user's access)", "POST", "/demo/revoke"),
      // Sent with the token, so the demo clock runs ahead for this user's tokens, not for the session. The
      // server keeps that clock per user until the next log-in, so tokens minted meanwhile are late too.
      async expire() {
        const token = await hybridToken();
        if (token) await call("hybrid", "Expire (demo clock runs ahead for this user's tokens until the next Log in)", "POST", "/demo/expire", { bearer: token, cookies: false });
      },
      // With the cookie: a bearer log-out would end a refresh family, and the session is what minted the token.
      // Ending it pushes its sid, which ends every token minted from it.
      async logout() {
        await call("hybrid", "Log out", "POST", "/auth/logout");
        dropToken("hybrid");
      },
    },
  };

  for (const column of document.querySelectorAll(".column")) {
    const strategy = column.dataset.strategy;
    column.addEventListener("click", async event => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      button.disabled = true;
      try { await actions[strategy][button.dataset.action](); } finally { button.disabled = false; }
    });
  }

  async function loadDemoState() {
    const status = $("#demo-status");
    try {
      const r = await fetch("/demo/state");
      if (!r.ok) throw new Error(String(r.status));
      const demo = await r.json();
      state.demo = true;
      if (demo.audience) state.audience = demo.audience;
      $("#push-toggle").checked = demo.push;
      status.textContent = `Demo controls on (mode ${demo.mode}, access tokens live ${demo.access_token_lifetime} s, hybrid tokens ${demo.exchange_token_lifetime} s, near cache ${demo.near_cache ? "on" : "off"}).`;
    } catch {
      status.textContent = "Demo controls are off on this server (Production): Expire and the push toggle are unavailable.";
      $("#push-toggle").disabled = true;
      document.querySelectorAll('button[data-action="expire"]').forEach(b => { b.disabled = true; });
    }
  }

  // Sends the wanted push setting with each credential held: the JWT column's token, and the session cookie (the
  // Session and hybrid columns' user). Without any, the setting waits for the next log-in.
  async function sendPush() {
    const body = JSON.stringify({ enabled: state.push });
    const headers = { "Content-Type": "application/json" };
    const sent = [];
    if (state.jwt.accessToken) sent.push(fetch("/demo/push", { method: "POST", headers: { ...headers, Authorization: "Bearer " + state.jwt.accessToken }, body, credentials: "omit" }));
    if (state.session.loggedIn || !state.jwt.accessToken) sent.push(fetch("/demo/push", { method: "POST", headers, body, credentials: "same-origin" }));
    await Promise.all(sent.map(p => p.catch(() => null)));
  }

  $("#push-toggle").addEventListener("change", async event => {
    state.push = event.target.checked;
    await sendPush();
  });

  // The decision helper: the articles' questions, Bouncer's answer and the configuration for it.
  function recommend() {
    const f = new FormData($("#decide"));
    const yes = name => f.get(name) === "on";
    let mode, why;
    if ((yes("services") || yes("native") || yes("thirdparty")) && yes("instant")) {
      mode = "Hybrid"; why = "Tokens for services and non-browser clients, with revocation pushed to every verifier so it still takes effect at once.";
    } else if (yes("services") || yes("native") || yes("thirdparty")) {
      mode = "Jwt"; why = "Signed access tokens verify anywhere without a call back; rotating refresh tokens keep logins revocable.";
    } else {
      mode = "Session"; why = yes("instant")
        ? "One backend and instant revocation: sessions are the simplest way to get it, and the near cache keeps lookups in memory."
        : "One backend and browser clients: start with sessions; add tokens when the architecture demands them.";
    }
    const snippet = `builder.Services.AddBouncer(o =>\n{\n    o.Mode = BouncerMode.${mode};\n    o.Issuer = "https://auth.example.com";\n    o.Audience = "api";${mode !== "Session" ? "\n    o.Refresh.AccessTokenLifetime = TimeSpan.FromMinutes(10);" : ""}\n}).UseStores(_ => /* SQLite, Redis or PostgreSQL stores */);\napp.UseBouncer();\napp.MapBouncerEndpoints();`;
    const out = $("#recommendation");
    out.replaceChildren();
    const p = document.createElement("p");
    p.innerHTML = "";
    const strong = document.createElement("strong");
    strong.textContent = `Recommended: ${mode.toLowerCase()} mode. `;
    p.append(strong, document.createTextNode(why));
    const pre = document.createElement("pre");
    pre.textContent = snippet;
    pre.setAttribute("data-snippet", mode.toLowerCase());
    out.append(p, pre);
  }
  $("#decide").addEventListener("change", recommend);
  recommend();
  loadDemoState();
})();
