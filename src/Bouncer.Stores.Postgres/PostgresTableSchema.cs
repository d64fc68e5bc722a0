namespace Bouncer.Stores.Postgres;

/// <summary>
/// One store's table as DDL in parts, so that start-up can read the catalogs and run only what is missing: the
/// CREATE TABLE, the columns added to tables created by an older version, and the indexes. Every statement is
/// idempotent on its own, so <see cref="ToSql"/> is also the script an administrator runs.
/// </summary>
/// <param name="Schema">The schema name (validated by the store's options).</param>
/// <param name="Table">The table name.</param>
/// <param name="CreateTable">The <c>CREATE TABLE IF NOT EXISTS</c> statement, with every column.</param>
/// <param name="AddedColumns">Columns newer than the table's first version: name and its <c>ALTER TABLE ... ADD COLUMN IF NOT EXISTS</c>.</param>
/// <param name="Indexes">Index name and its <c>CREATE INDEX IF NOT EXISTS</c>.</param>
internal sealed record PostgresTableSchema(
    string Schema,
    string Table,
    string CreateTable,
    IReadOnlyList<(string Name, string Sql)> AddedColumns,
    IReadOnlyList<(string Name, string Sql)> Indexes)
{
    /// <summary>The quoted, schema-qualified table name.</summary>
    public string QualifiedTable => $"\"{Schema}\".\"{Table}\"";

    /// <summary>The whole script, one statement per line group, in the order start-up would run it.</summary>
    public string ToSql() =>
        string.Join('\n', new[] { CreateTable }.Concat(AddedColumns.Select(c => c.Sql)).Concat(Indexes.Select(i => i.Sql))) + "\n";
}
