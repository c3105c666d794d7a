// The look both pages share (light and dark), embedded so that the package serves it with no files beside dist/.
export const BASE_CSS = String.raw`
:root {
  color-scheme: light dark;
  --bg: #f5f6f8; --card: #ffffff; --text: #1b1f24; --muted: #5b6573; --border: #dde1e6; --grid: #e9ecef;
  --accent: #2563eb; --ok: #15803d; --warn: #b45309; --bad: #b91c1c; --bad-bg: #fdecec; --track: #e6e9ee;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #111418; --card: #1a1e24; --text: #e6e8eb; --muted: #9aa4b1; --border: #2c323b; --grid: #262c34;
    --accent: #60a5fa; --ok: #4ade80; --warn: #fbbf24; --bad: #f87171; --bad-bg: #3a1d1d; --track: #2c323b;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html, body { margin: 0; background: var(--bg); color: var(--text); }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
header.top {
  display: flex; align-items: center; gap: 12px; flex-wrap: wrap;
  padding: 12px 20px; background: var(--card); border-bottom: 1px solid var(--border);
}
header.top h1 { font-size: 17px; margin: 0; font-weight: 600; }
header.top .brand { color: var(--muted); font-weight: 500; }
header.top .meta { color: var(--muted); font-size: 13px; }
main { padding: 16px 20px 32px; max-width: 1400px; margin: 0 auto; }
.card { background: var(--card); border: 1px solid var(--border); border-radius: 8px; padding: 14px 16px; min-width: 0; }
.card h2 { font-size: 14px; margin: 0 0 10px; font-weight: 600; letter-spacing: .01em; }
.pill { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 600;
  border: 1px solid currentColor; }
.pill.live { color: var(--ok); } .pill.wait { color: var(--warn); } .pill.off { color: var(--muted); } .pill.bad { color: var(--bad); }
.muted { color: var(--muted); }
.mono { font-family: var(--mono); font-size: 12.5px; }
.error { background: var(--bad-bg); color: var(--bad); border: 1px solid var(--bad); border-radius: 6px; padding: 8px 12px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--grid); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; }
input[type=search], input[type=text] { font: inherit; padding: 4px 8px; border: 1px solid var(--border); border-radius: 6px;
  background: var(--bg); color: var(--text); }
`;
