// SQL text without a parser: a tokenizer for highlighting (keywords, strings, quoted
// identifiers, numbers, comments, functions), the statement kind, and where the leading
// `SET key = value;` statements end (EXPLAIN PLAN FOR goes after them).

const KEYWORDS = new Set(`
  ALL AND ANY AS ASC BETWEEN BY CASE CAST CLUSTERED CROSS CURRENT DATE DAY DESC DISTINCT ELSE END
  ESCAPE EXCEPT EXISTS EXPLAIN FALSE FETCH FILTER FIRST FOLLOWING FOR FROM FULL GROUP HAVING HOUR IN
  INNER INSERT INTERSECT INTERVAL INTO IS JOIN LATERAL LEFT LIKE LIMIT MINUTE MONTH NATURAL NEXT NOT
  NULL OFFSET ON ONLY OR ORDER OUTER OVER OVERWRITE PARTITION PARTITIONED PLAN PRECEDING QUARTER RANGE
  REPLACE RIGHT ROW ROWS SECOND SELECT SET SOME TABLE THEN TIME TIMESTAMP TRUE UNBOUNDED UNION UNNEST
  USING VALUES WEEK WHEN WHERE WINDOW WITH YEAR BIGINT BOOLEAN CHAR DOUBLE FLOAT INTEGER REAL VARCHAR
`.trim().split(/\s+/));

// One alternative per token kind, tried in order at each position.
const TOKEN = new RegExp([
  '(--[^\\n]*|/\\*[\\s\\S]*?(?:\\*/|$))', // 1 comment
  "('(?:[^']|'')*'?)", // 2 string
  '("(?:[^"]|"")*"?)', // 3 quoted identifier
  '(\\d+(?:\\.\\d*)?(?:[eE][+-]?\\d+)?|\\.\\d+(?:[eE][+-]?\\d+)?)', // 4 number
  '([A-Za-z_][A-Za-z0-9_$]*)', // 5 word
  '(\\s+)', // 6 space
  '([\\s\\S])', // 7 anything else
].join('|'), 'gy');

/** The SQL as tokens `{type, text}`; type is keyword, function, string, ident, number,
 * comment, space, word or punct. Concatenating the texts gives back the SQL. */
export function tokenize(sql) {
  const out = [];
  TOKEN.lastIndex = 0;
  let m;
  while (TOKEN.lastIndex < sql.length && (m = TOKEN.exec(sql))) {
    const [text, comment, str, ident, number, word, space] = m;
    let type = 'punct';
    if (comment !== undefined) type = 'comment';
    else if (str !== undefined) type = 'string';
    else if (ident !== undefined) type = 'ident';
    else if (number !== undefined) type = 'number';
    else if (space !== undefined) type = 'space';
    else if (word !== undefined) {
      if (KEYWORDS.has(word.toUpperCase())) type = 'keyword';
      else type = /^\s*\(/.test(sql.slice(TOKEN.lastIndex, TOKEN.lastIndex + 20)) ? 'function' : 'word';
    }
    out.push({ type, text });
  }
  return out;
}

const meaningful = (t) => t.type !== 'space' && t.type !== 'comment';

/** Index (in `sql`) where the statement proper starts, after leading `SET k = v;` statements. */
export function afterSets(sql) {
  let pos = 0;
  let start = 0;
  let inSet = false;
  for (const t of tokenize(sql)) {
    if (!inSet && meaningful(t)) {
      if (t.type === 'keyword' && t.text.toUpperCase() === 'SET') inSet = true;
      else return start;
    } else if (inSet && t.type === 'punct' && t.text === ';') {
      inSet = false;
      start = pos + 1;
    }
    pos += t.text.length;
  }
  return Math.min(start, sql.length);
}

/** `SELECT` (also for WITH ... SELECT and VALUES), `INSERT`, `REPLACE`, `EXPLAIN` or ''. */
export function statementKind(sql) {
  const words = tokenize(sql.slice(afterSets(sql)))
    .filter(meaningful)
    .filter((t) => t.type === 'keyword' || t.type === 'word' || t.type === 'function')
    .map((t) => t.text.toUpperCase());
  if (!words.length) return '';
  if (words[0] === 'EXPLAIN') return 'EXPLAIN';
  if (words[0] === 'INSERT' || words[0] === 'REPLACE') return words[0];
  if (words[0] === 'WITH') {
    // A CTE before an INSERT/REPLACE is not Druid's syntax, so WITH ... is a SELECT.
    return 'SELECT';
  }
  return words[0] === 'SELECT' || words[0] === 'VALUES' ? 'SELECT' : words[0];
}
