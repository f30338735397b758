using System.Globalization;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Evaluation.Benchmarks.MultipleChoice;

/// <summary>
/// A multiple-choice benchmark from a VLMEvalKit TSV (columns <c>index, question, hint?, A, B, C, D, ..., image,
/// answer, category, l2-category?, split?</c>; column names other than option letters are read case-insensitively,
/// as VLMEvalKit lower-cases them). Images are inline base64 (or, in a short cell, the index of the row whose image
/// is reused); each is decoded with a size cap, its header checked against <see cref="ImageLimits.Default"/>, and
/// written to a private folder so the generators read it like any image file (and decode it with the same limits).
/// A bad row is a counted skip with its reason (read = items + skipped). Answers are read by
/// <see cref="OptionMatcher"/>; an answer no rule reads is wrong and counted as unmatched. MMBench is scored by
/// circular evaluation (see <see cref="Summarize"/>). Dispose deletes the image folder.
/// </summary>
public sealed class MultipleChoiceBenchmark : IBenchmark, IDisposable
{
    /// <summary>A cell this short is a reference to another row's image, not an image (image_base.py: len &lt;= 64).</summary>
    public const int ImageReferenceMaxChars = 64;
    /// <summary>VLMEvalKit's circular group: <c>int(index % 1e6)</c>.</summary>
    public const long CircularModulus = 1_000_000;

    private readonly Dictionary<string, McQuestion> _questions;
    private readonly string _imageDir;
    private readonly bool _ownsImageDir;

    private MultipleChoiceBenchmark(McDataset dataset, IReadOnlyList<BenchmarkItem> items, Dictionary<string, McQuestion> questions,
        int read, IReadOnlyDictionary<string, int> skipped, string imageDir, bool ownsImageDir)
    {
        Dataset = dataset;
        Items = items;
        _questions = questions;
        ItemsRead = read;
        SkippedOnLoad = skipped;
        (_imageDir, _ownsImageDir) = (imageDir, ownsImageDir);
    }

    public McDataset Dataset { get; }
    public string Name => Dataset.Name;
    public string Metric => Dataset.Circular ? "circular_accuracy" : "accuracy";
    public IReadOnlyList<BenchmarkItem> Items { get; }
    public int ItemsRead { get; }
    public IReadOnlyDictionary<string, int> SkippedOnLoad { get; }

    public McQuestion Question(BenchmarkItem item) => _questions[item.Id];

    /// <param name="imageDir">where decoded images go (created; must be empty or absent); a temporary folder, deleted on Dispose, when null</param>
    public static MultipleChoiceBenchmark Load(string path, McDataset dataset, McTsvLimits? limits = null, string? imageDir = null)
    {
        limits ??= McTsvLimits.Default;
        bool owns = imageDir is null;
        imageDir ??= Path.Combine(Path.GetTempPath(), "oqvl-mc-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(imageDir);
        try { return Read(path, dataset, limits, imageDir, owns); }
        catch { if (owns) Directory.Delete(imageDir, recursive: true); throw; }
    }

    private static MultipleChoiceBenchmark Read(string path, McDataset dataset, McTsvLimits limits, string imageDir, bool owns)
    {
        const string what = "a VLMEvalKit multiple-choice TSV (index, question, A, B, ..., image, answer)";
        var (header, rows) = new TsvReader(limits.MaxFileBytes, limits.MaxFieldChars).Open(path, what);
        var columns = Columns(path, header);
        int Col(string name) => columns.TryGetValue(name, out int c) ? c : -1;
        foreach (var required in new[] { "index", "question", "image" })
            if (Col(required) < 0) throw new InvalidDataException($"{path}: no \"{required}\" column ({what} expected)");
        if (Col("answer") < 0) throw new InvalidDataException($"{path}: no \"answer\" column: a test split without answers is scored by its server, not here");
        var optionColumns = header.Select((h, i) => (h, i)).Where(x => x.h.Length == 1 && x.h[0] is >= 'A' and <= 'Z').OrderBy(x => x.h, StringComparer.Ordinal).ToArray();
        if (optionColumns.Length == 0) throw new InvalidDataException($"{path}: no option columns A, B, ... ({what} expected)");

        var skipped = new Dictionary<string, int>(StringComparer.Ordinal);
        int read = 0;
        // Pass 1 (streaming): keep the text cells, turn each image cell into files (or a reference to resolve later).
        // Rows refused for their image stay in for pandas' column typing (it types the whole file) but give no item.
        var kept = new List<(string[] Cells, string[]? Images, string? ImageRef, string? Skip)>();
        var imagesByIndex = new Dictionary<string, string[]>(StringComparer.Ordinal);
        int imageCol = Col("image");
        foreach (var row in rows)
        {
            read++;
            if (row.Fields is not { } fields) { BenchmarkFiles.Skip(skipped, row.SkipReason!); continue; }
            string index = fields[Col("index")].Trim();
            string imageCell = fields[imageCol];
            var cells = fields.ToArray();
            cells[imageCol] = "";
            if (PandasCells.IsNa(imageCell)) { kept.Add((cells, null, null, "missing_image")); continue; }
            if (imageCell.Length <= ImageReferenceMaxChars) { kept.Add((cells, null, imageCell.Trim(), null)); continue; }
            var images = new List<string>();
            string? reason = null;
            foreach (var (part, k) in ImageCells(imageCell).Select((p, k) => (p, k)))
            {
                string stem = Path.Combine(imageDir, string.Create(CultureInfo.InvariantCulture, $"{read}_{k}"));
                if (!TryWriteImage(part, limits, stem, out string fileOrReason)) { reason = fileOrReason; break; }
                images.Add(fileOrReason);
            }
            if (reason is not null) { kept.Add((cells, null, null, reason)); continue; }
            // The first row with an index is the one a reference resolves to (later duplicates are refused below).
            imagesByIndex.TryAdd(index, images.ToArray());
            kept.Add((cells, images.ToArray(), null, null));
        }

        // Pass 2: pandas' column typing of the cells the prompt shows, then one question per row.
        string?[] Typed(int col) => col < 0 ? new string?[kept.Count] : PandasCells.Column(kept.Select(k => k.Cells[col]).ToArray());
        var question = Typed(Col("question"));
        var hint = Typed(Col("hint"));
        var options = optionColumns.Select(o => (Letter: o.h, Cells: Typed(o.i))).ToArray();
        var items = new List<(BenchmarkItem Item, long Order)>();
        var questions = new Dictionary<string, McQuestion>(StringComparer.Ordinal);
        for (int r = 0; r < kept.Count; r++)
        {
            var (cells, images, imageRef, skip) = kept[r];
            if (skip is not null) { BenchmarkFiles.Skip(skipped, skip); continue; }
            string Cell(string name) => Col(name) is int c and >= 0 && !PandasCells.IsNa(cells[c]) ? cells[c].Trim() : "";
            string index = Cell("index");
            if (index.Length == 0) { BenchmarkFiles.Skip(skipped, "missing_index"); continue; }
            if (imageRef is not null && !imagesByIndex.TryGetValue(imageRef, out images)) { BenchmarkFiles.Skip(skipped, "image_reference_unresolved"); continue; }
            if (question[r] is not { } text) { BenchmarkFiles.Skip(skipped, "missing_question"); continue; }
            var present = options.Where(o => o.Cells[r] is not null).Select(o => KeyValuePair.Create(o.Letter, o.Cells[r]!)).ToArray();
            if (present.Length == 0) { BenchmarkFiles.Skip(skipped, "no_options"); continue; }
            string answer = Cell("answer");
            if (answer.Length == 0) { BenchmarkFiles.Skip(skipped, "missing_answer"); continue; }
            if (!present.Any(o => o.Key == answer)) { BenchmarkFiles.Skip(skipped, "answer_not_an_option"); continue; }
            long? group = null;
            if (dataset.Circular)
            {
                if (!long.TryParse(index, NumberStyles.None, CultureInfo.InvariantCulture, out long number)) { BenchmarkFiles.Skip(skipped, "index_not_an_integer"); continue; }
                group = number % CircularModulus;
                index = number.ToString(CultureInfo.InvariantCulture);
            }
            if (questions.ContainsKey(index)) throw new InvalidDataException($"{path}: index {index} appears more than once");
            var q = new McQuestion(index, text, hint[r], present, answer, Cell("category"), Cell("l2-category"), Cell("split"), group);
            questions[index] = q;
            items.Add((new BenchmarkItem(index, text, images!, [answer], q.Category), r));
        }
        // Circular shifts of one question next to each other (main row first), so --limit takes whole groups.
        var ordered = dataset.Circular
            ? items.OrderBy(x => questions[x.Item.Id].CircularGroup).ThenBy(x => long.Parse(x.Item.Id, CultureInfo.InvariantCulture)).Select(x => x.Item)
            : items.Select(x => x.Item);
        return new MultipleChoiceBenchmark(dataset, ordered.ToArray(), questions, read, skipped, imageDir, owns);
    }

    /// <summary>Column name to position; names other than option letters lower-cased as VLMEvalKit does; a repeated name is refused.</summary>
    private static Dictionary<string, int> Columns(string path, IReadOnlyList<string> header)
    {
        var columns = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < header.Count; i++)
        {
            string h = header[i].Trim();
            string name = h.Length == 1 && h[0] is >= 'A' and <= 'Z' ? h : h.ToLowerInvariant();
            if (!columns.TryAdd(name, i)) throw new InvalidDataException($"{path}: column \"{name}\" appears more than once in the header");
        }
        return columns;
    }

    /// <summary>One base64 image, or several written as a Python list (<c>['...', '...']</c>, read by VLMEvalKit's toliststr).</summary>
    private static List<string> ImageCells(string cell)
    {
        string s = cell.Trim();
        if (s.Length > 1 && s[0] == '[' && s[^1] == ']')
            return s[1..^1].Split(',').Select(p => p.Trim().Trim('\'', '"')).Where(p => p.Length > 0).ToList();
        return [s];
    }

    /// <summary>Decodes one base64 image within the caps and writes it as <c>{stem}.{format}</c>; false with the skip reason in <paramref name="fileOrReason"/>.</summary>
    private static bool TryWriteImage(string base64, McTsvLimits limits, string stem, out string fileOrReason)
    {
        // base64 is 4 characters per 3 bytes: refuse by length before allocating.
        if ((long)base64.Length / 4 * 3 > limits.MaxImageBytes + 3) { fileOrReason = "image_too_large"; return false; }
        var bytes = new byte[base64.Length / 4 * 3 + 3];
        if (!Convert.TryFromBase64String(base64, bytes, out int n)) { fileOrReason = "image_not_base64"; return false; }
        if (n > limits.MaxImageBytes) { fileOrReason = "image_too_large"; return false; }
        var data = bytes.AsSpan(0, n);
        var imageLimits = ImageLimits.Default;
        if (n == 0) { fileOrReason = "image_" + ImageSkipReasons.Empty; return false; }
        if (!ImageDecoder.TryReadSize(data, out int w, out int h, out string? format) || format is null)
        { fileOrReason = "image_" + ImageSkipReasons.UnsupportedFormat; return false; }
        if (w < imageLimits.MinSide || h < imageLimits.MinSide) { fileOrReason = "image_" + ImageSkipReasons.TooSmall; return false; }
        if ((long)w * h > imageLimits.MaxPixels) { fileOrReason = "image_" + ImageSkipReasons.TooManyPixels; return false; }
        fileOrReason = $"{stem}.{format}";
        using (var f = File.Create(fileOrReason)) f.Write(data);
        return true;
    }

    public string PromptText(BenchmarkItem item, VqaPromptStyle style) => McPrompt.Text(_questions[item.Id], item.ImagePaths.Count, style);

    /// <summary>Without the item the options are unknown: the generated text is kept as it is (see the item-aware overload).</summary>
    public string Answer(string generated, EvaluationProtocol protocol) => generated;

    /// <summary>
    /// The option letter VLMEvalKit's exact matching reads from the whole generated text ("Z" for a refusal), or ""
    /// when no rule reads one. The protocol does not change this: its stop texts already shaped the generated text,
    /// and its lower-casing would hide the letters.
    /// </summary>
    public string Answer(BenchmarkItem item, string generated, EvaluationProtocol protocol) =>
        OptionMatcher.Match(generated, _questions[item.Id].Options).Letter ?? "";

    public double Score(BenchmarkItem item, string answer) => answer == _questions[item.Id].Answer ? 1 : 0;

    /// <summary>
    /// VLMEvalKit's report_acc rows: the headline, then per split (when the file has a split column), per l2-category
    /// and per category; then <c>unmatched</c>, the share of answers no rule read. Circular (mcq_circular_eval under
    /// exact matching): rows are grouped by <c>index % 1e6</c>; a group is reported when its main row
    /// (<c>index == index % 1e6</c>) was answered, and is correct only if every answered shift of it is; categories
    /// are the main row's. <c>vanilla_accuracy</c> is then the per-row accuracy of all answered shifts.
    /// </summary>
    public IReadOnlyList<SummaryRow> Summarize(IReadOnlyList<BenchmarkPrediction> predictions)
    {
        List<(McQuestion Q, double Hit)> scored;
        if (Dataset.Circular)
        {
            var byGroup = predictions.GroupBy(p => _questions[p.Item.Id].CircularGroup!.Value).ToDictionary(g => g.Key, g => g.ToList());
            scored = predictions.Select(p => _questions[p.Item.Id]).Where(q => q.IsCircularMain)
                .Select(q => (q, byGroup[q.CircularGroup!.Value].All(p => p.Score == 1) ? 1.0 : 0.0)).ToList();
            if (scored.Count == 0) throw new InvalidDataException($"{Name}: no circular group has its main row (index < 1e6) answered");
        }
        else scored = predictions.Select(p => (_questions[p.Item.Id], p.Score)).ToList();

        var rows = new List<SummaryRow> { new(Metric, scored.Average(s => s.Hit), scored.Count) };
        void Grouped(string label, Func<McQuestion, string> key)
        {
            foreach (var g in scored.Where(s => key(s.Q).Length > 0).GroupBy(s => key(s.Q), StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
                rows.Add(new SummaryRow($"{Metric}[{label}={g.Key}]", g.Average(s => s.Hit), g.Count()));
        }
        Grouped("split", q => q.Split);
        Grouped("l2-category", q => q.L2Category);
        Grouped("category", q => q.Category);
        if (Dataset.Circular) rows.Add(new SummaryRow("vanilla_accuracy", predictions.Average(p => p.Score), predictions.Count));
        rows.Add(new SummaryRow("unmatched", predictions.Count(p => p.Answer.Length == 0) / (double)predictions.Count, predictions.Count));
        return rows;
    }

    public void Dispose()
    {
        if (_ownsImageDir && Directory.Exists(_imageDir)) Directory.Delete(_imageDir, recursive: true);
    }
}
