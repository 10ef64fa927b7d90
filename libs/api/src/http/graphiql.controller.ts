/**
 * GraphiQL at /graphiql, served entirely from this server's node_modules so it works on a
 * machine with no internet access.
 */
import { Controller, Get, Header, NotFoundException, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { dirname, join } from 'node:path';

const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

const ASSETS: Record<string, { file: string; type: string }> = {
  'react.js': { file: join(packageDir('react'), 'umd', 'react.production.min.js'), type: 'text/javascript' },
  'react-dom.js': { file: join(packageDir('react-dom'), 'umd', 'react-dom.production.min.js'), type: 'text/javascript' },
  'graphiql.js': { file: join(packageDir('graphiql'), 'graphiql.min.js'), type: 'text/javascript' },
  'graphiql.css': { file: join(packageDir('graphiql'), 'graphiql.min.css'), type: 'text/css' },
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <title>chainvault GraphiQL</title>
  <link rel="stylesheet" href="/graphiql/assets/graphiql.css" />
  <style>
    body { margin: 0; height: 100vh; display: flex; flex-direction: column; font-family: sans-serif; }
    #token-bar { display: flex; gap: 8px; align-items: center; padding: 6px 10px; background: #f3f4f6; border-bottom: 1px solid #d1d5db; font-size: 14px; }
    #token-bar input { flex: 1; max-width: 32em; font-family: monospace; }
    #graphiql { flex: 1; min-height: 0; }
  </style>
</head>
<body>
  <form id="token-bar" autocomplete="off">
    <label for="token">API token</label>
    <input id="token" type="password" placeholder="cvt_… (the first start wrote one to admin.token in the data directory)" />
    <span id="token-state"></span>
  </form>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="/graphiql/assets/react.js"></script>
  <script src="/graphiql/assets/react-dom.js"></script>
  <script src="/graphiql/assets/graphiql.js"></script>
  <script>
    // The token stays in this tab only (sessionStorage) and goes to this server only.
    const input = document.getElementById('token');
    const state = document.getElementById('token-state');
    input.value = sessionStorage.getItem('chainvault-token') || '';
    const remember = () => {
      sessionStorage.setItem('chainvault-token', input.value.trim());
      state.textContent = input.value.trim() ? 'set' : 'no token: queries will be refused';
    };
    input.addEventListener('input', remember);
    document.getElementById('token-bar').addEventListener('submit', (event) => event.preventDefault());
    remember();
    const fetcher = async (params) => {
      const token = sessionStorage.getItem('chainvault-token');
      const response = await fetch('/graphql', {
        method: 'POST',
        headers: Object.assign({ 'content-type': 'application/json' }, token ? { authorization: 'Bearer ' + token } : {}),
        body: JSON.stringify(params),
      });
      return response.json();
    };
    const defaultQuery = '# chainvault: paste an API token above\\n{\\n  plugins { id version status methods { name scope } }\\n  networks { id name protocol }\\n}\\n';
    ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(GraphiQL, { fetcher, defaultQuery }));
  </script>
</body>
</html>`;

@Controller('graphiql')
export class GraphiqlController {
  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  // No other site may frame the page (clickjacking) or load anything into it.
  @Header('X-Frame-Options', 'DENY')
  @Header('Content-Security-Policy', "frame-ancestors 'none'")
  page(): string {
    return PAGE;
  }

  @Get('assets/:name')
  asset(@Param('name') name: string, @Res() response: Response): void {
    const asset = ASSETS[name];
    if (!asset) throw new NotFoundException();
    response.type(asset.type).setHeader('Cache-Control', 'public, max-age=86400');
    response.sendFile(asset.file);
  }
}
