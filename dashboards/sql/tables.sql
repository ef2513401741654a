-- Which schemas and tables the warehouse has, to tell a missing mart from an empty one.
SELECT table_schema, table_name
FROM information_schema.tables
ORDER BY table_schema, table_name;
