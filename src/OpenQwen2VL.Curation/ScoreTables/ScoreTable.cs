namespace OpenQwen2VL.Curation.ScoreTables;

/// <summary>
/// Scores joined by uid: a row per 128-bit uid (<see cref="SampleUid"/>) and one float per column, NaN where a uid has no
/// score in that column. Only the columns a keep expression names are stored.
/// <para>
/// Memory per million uids: the dictionary's entries (16-byte key, 4-byte row, hash code and chain link: 32 bytes with
/// padding) and buckets (4 bytes) are ~36 MB, up to twice that right after it grows, plus 4 MB per column (a DataComp
/// medium pool of 128M uids with two score columns: ~5-10 GB). A float keeps every MLM-Filter score (an integer 0-100)
/// exactly and a cosine similarity to 7 digits.
/// </para>
/// </summary>
public sealed class ScoreTable
{
    private readonly Dictionary<UInt128, int> _rows = [];
    private readonly float[][] _values;

    public ScoreTable(IReadOnlyList<string> columns)
    {
        Columns = columns;
        _values = [.. columns.Select(_ => Array.Empty<float>())];
    }

    public IReadOnlyList<string> Columns { get; }

    /// <summary>Uids with at least one score.</summary>
    public int Count => _rows.Count;

    public int ColumnIndex(string name)
    {
        for (int i = 0; i < Columns.Count; i++)
            if (Columns[i] == name) return i;
        return -1;
    }

    /// <summary>Sets <paramref name="uid"/>'s score in <paramref name="column"/>; returns false when it had one already (the new one wins).</summary>
    public bool Set(UInt128 uid, int column, float value)
    {
        if (!_rows.TryGetValue(uid, out int row))
        {
            row = _rows.Count;
            _rows.Add(uid, row);
            if (row >= _values[0].Length) Grow(row + 1);
        }
        ref float slot = ref _values[column][row];
        bool fresh = float.IsNaN(slot);
        slot = value;
        return fresh;
    }

    /// <summary>The row of <paramref name="uid"/>, or -1 when no score file scored it.</summary>
    public int RowOf(UInt128 uid) => _rows.TryGetValue(uid, out int row) ? row : -1;

    /// <summary>The score (NaN when missing) of a row from <see cref="RowOf"/>, or NaN for row -1.</summary>
    public float Get(int row, int column) => row < 0 ? float.NaN : _values[column][row];

    private void Grow(int needed)
    {
        int capacity = Math.Max(1024, Math.Max(needed, (int)Math.Min(Array.MaxLength, 2L * _values[0].Length)));
        for (int c = 0; c < _values.Length; c++)
        {
            var bigger = new float[capacity];
            _values[c].CopyTo(bigger, 0);
            bigger.AsSpan(_values[c].Length).Fill(float.NaN);
            _values[c] = bigger;
        }
    }
}
