using System.Text.Json;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Training.Observability;

/// <summary>
/// RUN_DIR/metrics.jsonl, one JSON object per optimiser step (<c>step</c> counts from 0). On resume, lines of steps after
/// the checkpoint (written before the interruption) are dropped so the file describes one consistent run.
/// </summary>
public sealed class MetricsLog
{
    static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // A skipped step's loss or norm is NaN/Inf; it is written as "NaN"/"Infinity" rather than dropped.
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
    readonly string _path;

    /// <param name="stepsCompleted">steps the resumed checkpoint holds: lines of steps 0..stepsCompleted-1 are kept</param>
    public MetricsLog(string path, int stepsCompleted)
    {
        _path = path;
        if (!File.Exists(path)) return;
        RegularFile.Require(path, "a metrics log");
        var kept = File.ReadLines(path)
            .Where(l => !string.IsNullOrWhiteSpace(l))
            .Where(l => { try { return JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32() < stepsCompleted; } catch (JsonException) { return false; } })
            .ToList();
        File.WriteAllLines(path + ".tmp", kept);
        File.Move(path + ".tmp", path, overwrite: true);
    }

    public void Append(IEnumerable<StepMetrics> lines)
    {
        using var w = File.AppendText(_path);
        foreach (var m in lines) w.WriteLine(JsonSerializer.Serialize(m, Options));
    }

    public static List<StepMetrics> Read(string path)
    {
        RegularFile.Require(path, "a metrics log");
        return File.ReadLines(path).Where(l => !string.IsNullOrWhiteSpace(l)).Select(l => JsonSerializer.Deserialize<StepMetrics>(l, Options)!).ToList();
    }
}
