using System.Numerics;
using OpenQwen2VL.Data.Formats;
using Parquet;
using Parquet.Schema;

namespace OpenQwen2VL.Curation.ScoreTables;

/// <summary>
/// A Parquet score file (Parquet.Net): a text <c>uid</c> column and score columns, top-level fields of a numeric type,
/// or text in the reference MLM-Filter columns (<see cref="ScoreColumnNames.ReferenceColumns"/>). Other columns
/// (caption, url, lists) are not scores and are not read. A file Parquet.Net cannot read is a one-line error naming it.
/// </summary>
public static class ParquetScoreFile
{
    /// <summary>
    /// A row group claiming more rows than this is refused before its columns are allocated (a crafted footer can claim
    /// billions in a few bytes); DataComp's metadata parquets hold some thousands of rows per group.
    /// </summary>
    public const long MaxRowsPerGroup = 1 << 24;

    public static IReadOnlyList<string> Columns(string path) =>
        Guard(path, async () =>
        {
            await using var stream = RegularFile.OpenRead(path, "a Parquet score file", 1 << 16);
            await using var reader = await ParquetReader.CreateAsync(stream);
            var (_, scores) = Fields(path, reader.Schema);
            return (IReadOnlyList<string>)ScoreFiles.MapColumns(path, scores.Select(f => f.Name));
        });

    public static void Load(string path, ScoreTable table, ScoreLoadStats stats) =>
        Guard(path, async () =>
        {
            await using var stream = RegularFile.OpenRead(path, "a Parquet score file", 1 << 16);
            await using var reader = await ParquetReader.CreateAsync(stream);
            var (uidField, scores) = Fields(path, reader.Schema);
            var wanted = scores.Select(f => (Field: f, Column: table.ColumnIndex(ScoreColumnNames.Map(f.Name)))).Where(w => w.Column >= 0).ToArray();
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                long rows = group.RowCount;
                if (rows < 0 || rows > MaxRowsPerGroup)
                    throw new InvalidDataException($"{path}: row group {g} claims {rows} rows (over {MaxRowsPerGroup})");
                int n = (int)rows;
                var uids = new string?[n];
                await group.ReadAsync(uidField, uids.AsMemory());
                var keys = new UInt128?[n];
                for (int i = 0; i < n; i++)
                {
                    stats.Rows++;
                    if (string.IsNullOrWhiteSpace(uids[i])) stats.RowsWithoutUid++;
                    else keys[i] = SampleUid.Key(uids[i]!.Trim());
                }
                foreach (var (field, column) in wanted)
                {
                    if (IsText(field.ClrType))
                    {
                        var text = new string?[n];
                        await group.ReadAsync(field, text.AsMemory());
                        for (int i = 0; i < n; i++)
                            if (keys[i] is { } key) ScoreFiles.PutText(table, stats, key, column, field.Name, text[i]);
                        continue;
                    }
                    var values = await ReadNumbers(group, field, n);
                    for (int i = 0; i < n; i++)
                        if (keys[i] is { } key) ScoreFiles.Put(table, stats, key, column, values[i]);
                }
            }
            return 0;
        });

    /// <summary>The uid field and the score fields of a schema.</summary>
    private static (DataField Uid, List<DataField> Scores) Fields(string path, ParquetSchema schema)
    {
        var top = schema.Fields.OfType<DataField>().Where(f => !f.IsArray).ToList();
        var uid = top.FirstOrDefault(f => f.Name == ScoreColumnNames.Uid)
            ?? throw new InvalidDataException($"{path}: no uid column (it has: {string.Join(", ", schema.Fields.Select(f => f.Name).Take(20))})");
        if (!IsText(uid.ClrType)) throw new InvalidDataException($"{path}: the uid column holds {uid.ClrType.Name} values, expected text");
        var scores = top.Where(f => f.Name != ScoreColumnNames.Uid
            && (IsNumber(f.ClrType) || (IsText(f.ClrType) && ScoreColumnNames.IsMlmFilterText(f.Name)))).ToList();
        return (uid, scores);
    }

    /// <summary>Parquet.Net 6 gives a BYTE_ARRAY column's type as ReadOnlyMemory (of char or byte) or string; each reads as UTF-8 text.</summary>
    private static bool IsText(Type t) => t == typeof(string) || t == typeof(ReadOnlyMemory<char>) || t == typeof(ReadOnlyMemory<byte>);

    private static bool IsNumber(Type t) =>
        t == typeof(float) || t == typeof(double) || t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(sbyte)
        || t == typeof(byte) || t == typeof(ushort) || t == typeof(uint) || t == typeof(ulong) || t == typeof(decimal);

    private static Task<float[]> ReadNumbers(ParquetRowGroupReader group, DataField f, int n) => f.ClrType switch
    {
        var t when t == typeof(float) => Read<float>(group, f, n),
        var t when t == typeof(double) => Read<double>(group, f, n),
        var t when t == typeof(int) => Read<int>(group, f, n),
        var t when t == typeof(long) => Read<long>(group, f, n),
        var t when t == typeof(short) => Read<short>(group, f, n),
        var t when t == typeof(sbyte) => Read<sbyte>(group, f, n),
        var t when t == typeof(byte) => Read<byte>(group, f, n),
        var t when t == typeof(ushort) => Read<ushort>(group, f, n),
        var t when t == typeof(uint) => Read<uint>(group, f, n),
        var t when t == typeof(ulong) => Read<ulong>(group, f, n),
        _ => Read<decimal>(group, f, n),
    };

    private static async Task<float[]> Read<T>(ParquetRowGroupReader group, DataField f, int n) where T : struct, INumberBase<T>
    {
        var result = new float[n];
        if (f.IsNullable)
        {
            var values = new T?[n];
            await group.ReadAsync<T>(f, values.AsMemory());
            for (int i = 0; i < n; i++) result[i] = values[i] is { } v ? float.CreateSaturating(v) : float.NaN;
        }
        else
        {
            var values = new T[n];
            await group.ReadAsync<T>(f, values.AsMemory());
            for (int i = 0; i < n; i++) result[i] = float.CreateSaturating(values[i]);
        }
        return result;
    }

    /// <summary>
    /// Runs a read; Parquet.Net reports a damaged file with many exception types (its own, IO, index, overflow,
    /// format, argument...), so every one but the process-fatal becomes one line naming the file.
    /// </summary>
    private static T Guard<T>(string path, Func<Task<T>> read)
    {
        try { return read().GetAwaiter().GetResult(); }
        catch (InvalidDataException) { throw; }
        catch (FileNotFoundException) { throw; }
        catch (Exception e) when (e is not (OutOfMemoryException or StackOverflowException or OperationCanceledException))
        {
            throw new InvalidDataException($"{path}: not a readable Parquet score file ({e.GetType().Name}: {e.Message.Split('\n')[0].Trim()})");
        }
    }
}
