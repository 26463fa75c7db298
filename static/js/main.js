// The page's entry point: the app around the viewer (state in the URL, the API, the panels).
import './app/main.js';
