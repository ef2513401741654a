SELECT count(*) FROM raw.events WHERE dt = $dt;
