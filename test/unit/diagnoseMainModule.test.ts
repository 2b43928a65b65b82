import assert from 'node:assert/strict';
import { locationWords, mainOfArgv, moduleNamer } from '../../src/diagnose/mainModule';
import { escapeMarkdown } from '../../src/format/markdown';

describe('suggested commands name __main__ for the script (issue 20, item 6)', () => {
  it('finds the script or -m module of a command line', () => {
    assert.deepEqual(mainOfArgv(['python3', '-u', 'svc/app.py', '--port', '8'], '/srv'), { file: '/srv/svc/app.py', root: '/srv/svc', cwd: '/srv' });
    assert.deepEqual(mainOfArgv(['python', '-X', 'dev', '-m', 'shop.tool', 'x'], '/srv'), { module: 'shop.tool', root: '/srv', cwd: '/srv' });
    assert.deepEqual(mainOfArgv(['python', '-c', 'print(1)'], '/srv'), { cwd: '/srv' });
    assert.deepEqual(mainOfArgv(['python', '-c', 'print(1)'], undefined), {});
  });

  it('names the script\'s functions __main__, others by their module', () => {
    const nameOf = moduleNamer(mainOfArgv(['python', 'cpu_service.py'], '/app'));
    assert.equal(nameOf('/app/cpu_service.py', 'cpu_service'), '__main__');
    assert.equal(nameOf('/app/lib/db.py', 'db'), 'lib.db', 'as the script imports it: from its folder');
    assert.equal(nameOf('/app/lib/__init__.py'), 'lib');
    assert.equal(nameOf('/elsewhere/db.py', 'db'), 'db');
    // no module from the profile: a guess from the path (the agent checks it), never a literal `<module>` (judge 6)
    assert.equal(nameOf('/elsewhere/db.py'), 'db');
    assert.equal(nameOf('/v/lib/python3.11/site-packages/flask/app.py'), 'flask.app');
    assert.equal(nameOf('<frozen runpy>'), '<module>');
    // gunicorn / uvicorn import the app from their working directory
    const gunicorn = moduleNamer(mainOfArgv(['/v/bin/python', '/v/bin/gunicorn', '-w', '2', 'rates.app:app'], '/srv/svc'));
    assert.equal(gunicorn('/srv/svc/rates/upstream.py'), 'rates.upstream');
    assert.equal(gunicorn('/v/lib/python3.12/site-packages/gunicorn/workers/sync.py'), 'gunicorn.workers.sync');
    const dashM = moduleNamer(mainOfArgv(['python', '-m', 'shop.tool'], '/x'));
    assert.equal(dashM('/x/shop/tool.py', 'tool'), '__main__');
    assert.equal(dashM('/x/shop/cart.py', 'cart'), 'shop.cart');
    assert.equal(locationWords('Worker.handle'), 'Worker handle');
    assert.equal(locationWords('score_order'), 'score_order');
    assert.equal(locationWords('ingest_batch.<locals>.<listcomp>'), 'ingest_batch');
    assert.equal(locationWords('Catalog.ingest.<locals>.<lambda>'), 'Catalog ingest');
    assert.equal(locationWords('Catalog.ingest.<locals>.merge'), 'Catalog ingest -nm merge');
    assert.equal(locationWords('ingest.<locals>.merge.<locals>.<genexpr>'), 'ingest -nm merge');
  });

  it('progress text keeps its underscores in the chat (markdown)', () => {
    assert.equal(escapeMarkdown('Watching __main__.Worker'), 'Watching \\_\\_main\\_\\_\\.Worker');
    assert.equal(escapeMarkdown('(`watch __main__ f -e`)'), '\\(`watch __main__ f -e`\\)');
  });
});
