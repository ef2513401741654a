-- `manifest` is the objects a day was just loaded from (registered by the pipeline).
INSERT INTO meta.lake_files BY NAME SELECT *, now()::TIMESTAMP AS loaded_at FROM manifest;
