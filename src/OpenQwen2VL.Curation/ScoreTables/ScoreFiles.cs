namespace OpenQwen2VL.Curation.ScoreTables;

/// <summary>
/// The score files <c>oqvl filter --scores</c> reads, by extension: Parquet (ours from <c>oqvl curate</c>, or the
/// reference scorer's, whose <c>&lt;metric&gt;_score</c> columns are text), CSV with a header row, JSON lines; each with
/// a <c>uid</c> column. A folder stands for the score files in it.
/// </summary>
public static class ScoreFiles
{
    public static readonly string[] Extensions = [".parquet", ".csv", ".jsonl"];

    /// <summary>The files named, folders expanded (their score files in name order); a missing path or an empty folder is an error.</summary>
    public static IReadOnlyList<string> Expand(IEnumerable<string> paths)
    {
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                var inFolder = Directory.GetFiles(path).Where(IsScoreFile).Order(StringComparer.Ordinal).ToList();
                if (inFolder.Count == 0) throw new InvalidDataException($"{path}: the folder holds no score files ({string.Join(", ", Extensions)})");
                files.AddRange(inFolder);
            }
            else if (!File.Exists(path)) throw new FileNotFoundException($"score file not found: {path}");
            else if (!IsScoreFile(path)) throw new InvalidDataException($"{path}: not a score file (expected {string.Join(", ", Extensions)})");
            else files.Add(path);
        }
        return files;
    }

    private static bool IsScoreFile(string path) => Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    private static string Format(string path) => Path.GetExtension(path).ToLowerInvariant().TrimStart('.');

    /// <summary>The score columns of a file, by the names keep expressions use (reference columns mapped), read from its schema, header or first row.</summary>
    public static IReadOnlyList<string> Columns(string path) => Format(path) switch
    {
        "parquet" => ParquetScoreFile.Columns(path),
        "csv" => CsvScoreFile.Columns(path),
        _ => JsonlScoreFile.Columns(path),
    };

    /// <summary>Reads the file's scores for the table's columns into it.</summary>
    public static void Load(string path, ScoreTable table, ScoreLoadStats stats)
    {
        long before = stats.Rows;
        switch (Format(path))
        {
            case "parquet": ParquetScoreFile.Load(path, table, stats); break;
            case "csv": CsvScoreFile.Load(path, table, stats); break;
            default: JsonlScoreFile.Load(path, table, stats); break;
        }
        stats.Files.Add((path, Format(path), stats.Rows - before));
    }

    /// <summary>The file's columns mapped to expression names; two file columns with one name is an error.</summary>
    internal static List<string> MapColumns(string path, IEnumerable<string> fileColumns)
    {
        var mapped = new List<string>();
        var from = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var column in fileColumns)
        {
            if (column == ScoreColumnNames.Uid) continue;
            string name = ScoreColumnNames.Map(column);
            if (from.TryGetValue(name, out var other))
                throw new InvalidDataException(other == column
                    ? $"{path}: column {column} appears twice"
                    : $"{path}: columns {other} and {column} both give the score {name}");
            from[name] = column;
            mapped.Add(name);
        }
        return mapped;
    }

    /// <summary>Stores one text cell of column <paramref name="column"/> (table slot) for <paramref name="uid"/>.</summary>
    internal static void PutText(ScoreTable table, ScoreLoadStats stats, UInt128 uid, int column, string fileColumn, string? text)
    {
        if (ScoreValue.IsMissing(fileColumn, text)) return;
        if (!ScoreValue.TryParse(fileColumn, text!, out float score))
        {
            stats.CountUnparseable(table.Columns[column]);
            return;
        }
        Put(table, stats, uid, column, score);
    }

    internal static void Put(ScoreTable table, ScoreLoadStats stats, UInt128 uid, int column, float score)
    {
        if (float.IsNaN(score)) return;
        if (!table.Set(uid, column, score)) stats.CountRepeated(table.Columns[column]);
    }
}
