using SkiaSharp;

namespace OpenQwen2VL.Synthetic;

/// <summary>Draws a <see cref="Scene"/> with SkiaSharp and encodes it as JPEG (deterministic for the same scene and size).</summary>
public static class SceneRenderer
{
    public const int JpegQuality = 90;

    public static byte[] RenderJpeg(Scene scene, int sizePixels)
    {
        using var bitmap = Render(scene, sizePixels);
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, JpegQuality);
        return data.ToArray();
    }

    public static SKBitmap Render(Scene scene, int sizePixels)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sizePixels, 16);
        var bitmap = new SKBitmap(new SKImageInfo(sizePixels, sizePixels, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(ToSk(scene.Background));
        using var paint = new SKPaint { Color = ToSk(scene.Color), IsAntialias = true, Style = SKPaintStyle.Fill };
        foreach (var p in scene.Placements)
        {
            float cx = p.CenterX * sizePixels, cy = p.CenterY * sizePixels, r = p.Radius * sizePixels;
            canvas.Save();
            canvas.RotateDegrees(p.RotationDegrees, cx, cy);
            switch (scene.Shape)
            {
                case SceneShape.Circle:
                    canvas.DrawCircle(cx, cy, r, paint);
                    break;
                case SceneShape.Square:
                    canvas.DrawRect(cx - r * 0.85f, cy - r * 0.85f, r * 1.7f, r * 1.7f, paint);
                    break;
                case SceneShape.Triangle:
                    using (var path = RegularPolygon(cx, cy, r, 3, innerRatio: null)) canvas.DrawPath(path, paint);
                    break;
                case SceneShape.Star:
                    using (var path = RegularPolygon(cx, cy, r, 5, innerRatio: 0.45f)) canvas.DrawPath(path, paint);
                    break;
            }
            canvas.Restore();
        }
        canvas.Flush();
        return bitmap;
    }

    /// <summary>A polygon with its first vertex pointing up; with <paramref name="innerRatio"/> it alternates outer and inner vertices (a star).</summary>
    private static SKPath RegularPolygon(float cx, float cy, float r, int points, float? innerRatio)
    {
        var path = new SKPath();
        int vertices = innerRatio is null ? points : points * 2;
        for (int i = 0; i < vertices; i++)
        {
            double angle = -Math.PI / 2 + i * 2 * Math.PI / vertices;
            float radius = innerRatio is { } ratio && i % 2 == 1 ? r * ratio : r;
            float x = cx + (float)(radius * Math.Cos(angle)), y = cy + (float)(radius * Math.Sin(angle));
            if (i == 0) path.MoveTo(x, y); else path.LineTo(x, y);
        }
        path.Close();
        return path;
    }

    private static SKColor ToSk(SceneColor c) => new(c.R, c.G, c.B);
}
