DELETE FROM meta.drift_daily WHERE list_contains($days::DATE[], dt);
