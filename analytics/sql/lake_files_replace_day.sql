DELETE FROM meta.lake_files WHERE dt = $dt;
