// The JSON files under schemas/ are the published form of the schemas the code compiles;
// this keeps them equal. After changing a schema module: UPDATE_SCHEMAS=1 npm test -- test/unit/protocol-schemas.test.ts
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { MESSAGE_BODIES, PROTOCOL_SCHEMA_FILES } from '../../src/protocol/index.ts';

const dir = new URL('../../schemas/', import.meta.url);

describe('protocol schema files', () => {
  for (const [file, schema] of Object.entries(PROTOCOL_SCHEMA_FILES)) {
    it(`schemas/${file} is the schema the code compiles`, () => {
      const expected = JSON.stringify(schema, null, 2) + '\n';
      if (process.env.UPDATE_SCHEMAS === '1') writeFileSync(new URL(file, dir), expected);
      assert.deepEqual(JSON.parse(readFileSync(new URL(file, dir), 'utf8')), JSON.parse(expected),
        `schemas/${file} is out of date: rerun with UPDATE_SCHEMAS=1`);
    });
  }
});

describe('message body schemas', () => {
  it('every body schema compiles (they compile on first use, so a bad keyword must fail here)', () => {
    for (const [type, def] of Object.entries(MESSAGE_BODIES)) {
      assert.equal(typeof def.validate, 'function', type);
      assert.equal(def.validate, def.validate, `${type}: compiled once`);
    }
  });
});
