/**
 * The HTML shell of GET /console: a page that loads the built client and nothing else. Everything
 * the console shows comes from the public HTTP API, called by the browser with the user's own
 * credential, so the server enforces every permission; the shell carries no data and no secret.
 */

/** The policy the console runs under: its own script and style only, talking to its own origin. */
export const consoleContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function consolePage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tokenbank console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/assets/console.css">
<script type="module" src="/console/assets/console.js"></script>
</head>
<body>
<div id="console-root"></div>
<noscript>The tokenbank console needs JavaScript. 控制台需要启用 JavaScript。</noscript>
</body>
</html>
`;
}

/** What /console answers when the package was installed without its built console. */
export function consoleMissingPage(): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>tokenbank console</title></head>
<body>
<h1>The console is not built</h1>
<p>This gateway has no built console assets. Build them with <code>npm run build:console</code>
(it writes dist/console/) and start the gateway again.</p>
<p>控制台尚未构建：请运行 <code>npm run build:console</code> 后重新启动网关。</p>
</body>
</html>
`;
}
