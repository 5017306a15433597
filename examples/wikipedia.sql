-- Ingest the Druid wikipedia sample (39,244 edits of 2015-09-12) into hourly segments,
-- clustered by channel, then ask which channels were busiest. REPLACE ... OVERWRITE ALL
-- makes the script idempotent: run it again and the datasource is the same, not doubled.
REPLACE INTO wikipedia OVERWRITE ALL
SELECT
  TIME_PARSE("time") AS __time,
  channel, page, "user", namespace, comment, cityName, countryName, countryIsoCode,
  isAnonymous, isMinor, isNew, isRobot, isUnpatrolled, metroCode,
  added, deleted, delta
FROM TABLE(
  EXTERN(
    '{"type":"local","baseDir":"testdata","filter":"wikiticker-*.json.gz"}',
    '{"type":"json"}',
    '[{"name":"time","type":"string"},{"name":"channel","type":"string"},{"name":"page","type":"string"},{"name":"user","type":"string"},{"name":"namespace","type":"string"},{"name":"comment","type":"string"},{"name":"cityName","type":"string"},{"name":"countryName","type":"string"},{"name":"countryIsoCode","type":"string"},{"name":"isAnonymous","type":"string"},{"name":"isMinor","type":"string"},{"name":"isNew","type":"string"},{"name":"isRobot","type":"string"},{"name":"isUnpatrolled","type":"string"},{"name":"metroCode","type":"long"},{"name":"added","type":"long"},{"name":"deleted","type":"long"},{"name":"delta","type":"long"}]'
  )
)
PARTITIONED BY HOUR
CLUSTERED BY channel;

SELECT channel, COUNT(*) AS edits, SUM(added) AS added
FROM wikipedia
GROUP BY channel
ORDER BY edits DESC
LIMIT 10;
