DELETE FROM staged WHERE source_file = $path;
