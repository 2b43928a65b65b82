import assert from 'node:assert/strict';
import { nativeCallsText, regexCall } from '../../src/diagnose/slow';

// Judge 5 (D8): a line that runs a regular expression had all its CPU charged to "its own lines";
// the regex engine (re's C code) is what ran. The lines are judge 5's and this suite's services'.
describe('slow: an own line whose time is a regular expression names it', () => {
  it('finds the regex call on the line', () => {
    assert.equal(regexCall('    return EMAIL_RE.match(addr) is not None'), 'EMAIL_RE.match');
    assert.equal(regexCall('    if re.search(r"^(a+)+$", s):'), 're.search');
    assert.equal(regexCall('        parts = self.token_pattern.findall(text)'), 'self.token_pattern.findall');
    assert.equal(regexCall('    return sku in seen'), undefined);
    assert.equal(regexCall('    m = matcher.match(x)'), undefined, 'a name that does not say regex is not guessed at');
    assert.equal(regexCall(undefined), undefined);
  });

  it('says the time is in the regex engine, only for such a line', () => {
    assert.match(nativeCallsText('    return EMAIL_RE.match(addr) is not None')[0], /regular expression \(EMAIL_RE\.match\): its time is inside the regex engine/);
    assert.deepEqual(nativeCallsText('    total += price * qty'), []);
  });
});
