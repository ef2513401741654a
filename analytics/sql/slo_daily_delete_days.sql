DELETE FROM marts.slo_daily WHERE list_contains($days::DATE[], day);
