DELETE FROM meta.slo_buckets WHERE list_contains($days::DATE[], dt);
