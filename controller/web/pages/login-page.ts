/** @module The sign-in page: the dashboard's token, once, for a session cookie. */
import { html } from "../html";
import { page } from "./layout";

/** The sign-in form; `failed` after a wrong token. */
export function loginPage(now: Date, next: string, failed: boolean): string {
  return page(
    "Sign in",
    { now, signedIn: false, actions: false },
    html`<div class="login"><h1>Sign in</h1>
<p>This dashboard needs its token (<code>LIFEBOAT_DASHBOARD_TOKEN</code> where <code>controller serve</code> runs).</p>
${failed ? html`<p class="problem" role="alert">That token is not this dashboard's.</p>` : ""}
<form method="post" action="/login"><input type="hidden" name="next" value="${next}"><label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button></form></div>`,
  );
}
