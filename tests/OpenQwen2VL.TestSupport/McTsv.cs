using SkiaSharp;
using OpenQwen2VL.Tests.Images;

namespace OpenQwen2VL.Tests.Evaluation;

/// <summary>Writes small VLMEvalKit-style multiple-choice TSVs (a header row, then one row per question, images inline in base64).</summary>
public static class McTsv
{
    /// <summary>A small PNG in base64, distinct per seed.</summary>
    public static string Image(int seed = 0, int size = 16) =>
        Convert.ToBase64String(TestImages.Encode(TestImages.Pattern(size, size, seed), SKEncodedImageFormat.Png));

    /// <summary>The file text: <paramref name="header"/> then the rows, tab-separated, LF line ends.</summary>
    public static string Text(string[] header, IEnumerable<string[]> rows) =>
        string.Join('\n', new[] { header }.Concat(rows).Select(r => string.Join('\t', r))) + "\n";

    public static string Write(string path, string[] header, IEnumerable<string[]> rows)
    {
        File.WriteAllText(path, Text(header, rows));
        return path;
    }
}
