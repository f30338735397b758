using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Data.Checkpoints;

/// <summary>
/// Checks a checkpoint's safetensors files before anything is read from them: the file exists, its header parses and
/// every tensor lies inside the file (a truncated copy fails here), and it holds each expected tensor with its shape.
/// </summary>
public static class CheckpointFiles
{
    /// <summary>What is wrong with <paramref name="path"/>, or null when it holds every expected tensor.</summary>
    /// <param name="expected">tensor names and shapes the trainer will read (none: only the header is checked)</param>
    public static string? Problem(string path, IEnumerable<(string Name, long[] Shape)> expected)
    {
        string file = Path.GetFileName(path);
        if (!File.Exists(path)) return $"{file} is missing";
        try
        {
            using var st = SafetensorsFile.Open(path);
            foreach (var (name, shape) in expected)
            {
                if (!st.Contains(name)) return $"{file} has no tensor '{name}'";
                var have = st[name].Shape;
                if (!have.SequenceEqual(shape)) return $"{file}: '{name}' has shape [{string.Join(",", have)}], the model has [{string.Join(",", shape)}]";
            }
            return null;
        }
        catch (Exception e) when (e is InvalidDataException or System.Text.Json.JsonException or InvalidOperationException
            or KeyNotFoundException or FormatException or OverflowException or IndexOutOfRangeException or IOException)
        {
            return $"{file} is damaged ({e.Message.Split('\n')[0].Replace(path, file, StringComparison.Ordinal)})";
        }
    }
}
