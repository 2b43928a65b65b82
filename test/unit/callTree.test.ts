import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildProfile, buildProfileOld, parseCollapsed, profileFromCollapsed } from '../../src/profile/model';

// Real py-spy raw output recorded from test/fixtures/cpu_service.py (see the folder's README).
const DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'recorded', 'profile');
const FILES = ['cpu-service.raw.txt', 'cpu-service-native-idle.raw.txt', 'cpu-service-library.raw.txt'];
const plain = (x: unknown) => JSON.parse(JSON.stringify(x));

describe('array call tree: the same aggregate as the object build (recorded py-spy profiles)', () => {
  for (const file of FILES) {
    for (const options of [{}, { idle: true, workspaceRoots: ['/work/wt-profile/test/fixtures'] }]) {
      it(`${file} ${JSON.stringify(options)}`, () => {
        const text = readFileSync(path.join(DIR, file), 'utf8');
        const old = buildProfileOld(parseCollapsed(text), options);
        for (const profile of [buildProfile(parseCollapsed(text), options), profileFromCollapsed(text, options)]) {
          assert.equal(profile.samples, old.samples);
          assert.deepEqual(plain(profile.tree), plain(old.tree));
          assert.deepEqual(plain(profile.hot), plain(old.hot));
          assert.deepEqual(plain(profile.stacks), plain(old.stacks));
        }
      });
    }
  }
});
