// The server's English messages in Japanese, by their pattern (static/js/app/server-messages.js).
// Run: node --test tests/js

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { japaneseServerMessage, serverMessage } from '../../static/js/app/server-messages.js';

test('formula errors are Japanese, with the field, the line and the column kept', () => {
  assert.equal(
    japaneseServerMessage('expression: line 1, column 4: syntax error: invalid syntax'),
    'expression: 1行目 4列目：構文エラー：文法が正しくありません',
  );
  assert.equal(
    japaneseServerMessage("expression: line 1, column 1: syntax error: '(' was never closed"),
    'expression: 1行目 1列目：構文エラー：「(」が閉じられていません',
  );
  assert.equal(
    japaneseServerMessage("expression: line 1, column 1: unknown function 'foo'; the functions are exp, log"),
    "expression: 1行目 1列目：関数 'foo' はありません。使える関数は exp, log です",
  );
});

test('server errors of values and graphs are Japanese; an unknown message stays English', () => {
  assert.equal(japaneseServerMessage("values.apple: no node with id 'apple'"), "values.apple: ID 'apple' のノードはありません");
  assert.equal(
    japaneseServerMessage("values.apple (node 'apple'): expected a number or a nested list of numbers, got the string 'abc'"),
    "values.apple (node 'apple'): 数値か数値の入れ子のリストを指定してください（受け取ったのは 文字列 'abc'）",
  );
  assert.equal(japaneseServerMessage('something new the page has not seen'), null);
  assert.equal(serverMessage('something new', 'ja'), 'something new');
  assert.equal(serverMessage("values.x: no node with id 'x'", 'en'), "values.x: no node with id 'x'");
});
