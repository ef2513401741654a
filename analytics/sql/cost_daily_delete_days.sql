DELETE FROM marts.cost_daily WHERE list_contains($days::DATE[], day);
