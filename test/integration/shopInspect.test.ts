import assert from 'node:assert/strict';
import { ErrorCode, PyFlightError } from '../../src/common/errors';
import { valueTree } from '../../src/inspect/valueTree';
import type { Session } from '../../src/session/session';
import { useAttachedService } from '../support/attached';

// Values of a service the first tests had not seen (shop_api_service.py), as a new user met them.
describe('inspect: shop_api_service.py (a string with a newline, a long list, mixed dict keys)', function () {
  this.timeout(90_000);
  const attached = useAttachedService(['shop_api_service.py']);
  let session: Session;
  before(() => ({ session } = attached));

  it('the globals list counts items as people read them: 1 item, 250,000 items', async () => {
    const byName = new Map((await session.call('listGlobals', { module: '__main__' })).globals.map((g) => [g.name, g.preview]));
    assert.equal(byName.get('NESTED'), '1 item');
    assert.equal(byName.get('ROWS'), '250,000 items');
    assert.equal(byName.get('STATS'), '4 items');
  });

  it('a string with a newline is one row; a long list counts from the end after its elision', async () => {
    const banner = valueTree((await session.getglobal({ module: '__main__', field: 'CONFIG' })).value).find((n) => n.label === 'secret_banner');
    assert.match(banner?.value ?? '', /^"<h1>Welcome<\/h1>\\n<script>alert\('x'\)<\/script>\\tTabbed\\u200b zero-width/);
    const rows = valueTree((await session.getglobal({ module: '__main__', field: 'ROWS' })).value);
    assert.deepEqual([rows[0].label, rows[0].value, rows[20].label, rows[20].value], ['[0]', '0', '[-1]', '249999']);
  });

  it('a dict with keys of mixed types: the error says why and points at -r, which works', async () => {
    await assert.rejects(session.getglobal({ module: '__main__', field: 'WEIRD_KEYS' }), (e: PyFlightError) => {
      assert.equal(e.code, ErrorCode.BadExpression);
      assert.match(e.hint ?? '', /mixed types: read it with -r/);
      return true;
    });
    const raw = await session.getglobal({ module: '__main__', field: 'WEIRD_KEYS', raw: true });
    assert.equal(raw.value, "{1: 'int key', (2, 3): 'tuple key', None: 'none key', 'ünïcode ✓': 'ok'}");
  });
});
