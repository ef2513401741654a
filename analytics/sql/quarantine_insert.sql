INSERT INTO meta.quarantine VALUES ($path, $target, $reason, now()::TIMESTAMP);
