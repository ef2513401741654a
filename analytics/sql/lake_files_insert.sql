-- `manifest` is the objects the days were just loaded from (with their rows before deduplication).
INSERT INTO meta.lake_files BY NAME SELECT *, now()::TIMESTAMP AS loaded_at FROM manifest;
